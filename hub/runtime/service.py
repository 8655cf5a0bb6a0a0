"""The hub: devices in, alarms through the durable outbox and uplink, feedback to the elder.

Everything runs on one asyncio loop; driver callbacks arrive from their own threads and are
handed over by :mod:`hub.runtime.hardware`. Readings become events (:mod:`hub.runtime.senses`); the rule
engine (:mod:`hub.rules`) decides locally what they mean (alarms, siren, relays, prompts);
everything that raised no alarm goes to the station as telemetry. In walk-test mode
(:mod:`hub.runtime.walktest_mode`, started through the control socket, :mod:`hub.runtime.control`) the
devices' events are tests instead: walk-test events for the station, a chirp and a short
prompt for the installer, no rules. Voice calls (:mod:`hub.runtime.call`) are started and ended by
the station; the speakerphone announces each before its microphone opens. The long-running
loops (sensor supervision, rule timers, call timeouts, outbox pruning, the uplink's heartbeat
and retries) run one round at a time (:mod:`hub.common.tasks`): a round that fails is logged and the
next one comes; a loop that ends anyway stops the watchdog's pings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins import Factory

from drivers.audio import AudioUnavailable
from drivers.ble.advert import Advert
from drivers.ble.decode import AdvertDecoder, Counted
from drivers.ble.scanner import ScanStatus
from drivers.radar.port import PortStatus
from drivers.speaker import Speaker
from drivers.speaker.audio import AudioSpeaker
from hub.common import wire
from hub.common.configfile import ConfigError
from hub.common.events import ELDER_CALLS, AlarmState, Event
from hub.common.tasks import Tasks, sleep_or_wake
from hub.common.transport import PahoTransport, Transport
from hub.rules.actions import CancelAlarm, OpenCall, RaiseAlarm, Relay, RuleAction, SendAlarm, Siren
from hub.rules.engine import Engine
from hub.rules.feedback import (
    Action,
    Reassurance,
    Say,
    ShowLed,
    Standing,
    cancel_gesture,
    elder_facing,
    feedback,
    pressed_again,
    reassured,
)
from hub.runtime.call import Announce, CallMachine, CloseMic, Effect, EndReason, Limits, OpenMic, Report
from hub.runtime.clockjump import JumpDetector
from hub.runtime.config import HubConfig, load_hub_rules
from hub.runtime.control import Control
from hub.runtime.hardware import Hardware, Inputs
from hub.runtime.outbox import PRUNE_EVERY_S, Outbox
from hub.runtime.senses import Senses
from hub.runtime.store import HubStore
from hub.runtime.supervision import Supervisor
from hub.runtime.uplink import Uplink, last_will
from hub.runtime.walktest_mode import WalkTestMode
from hub.voice.call_audio import CallAudio
from hub.voice.packet import VoiceError, decode_packet
from hub.voice.prompts import text

log = logging.getLogger(__name__)

TransportFactory = Callable[[HubConfig, asyncio.AbstractEventLoop], Transport]
SUPERVISION_MAX_SLEEP_S = 60.0
RULES_MAX_SLEEP_S = 5.0  # also how often unacknowledged alarms are checked for escalation
CANCEL_GESTURES = frozenset({"cancel.press", "button.long"})
CHIRP_S = 0.3  # the siren's beep for each device seen in walk-test mode
CALLS_MAX_SLEEP_S = 5.0
ANNOUNCE_POLL_S = 0.02  # how often the end of the announcement is checked: one audio block


def paho_transport(cfg: HubConfig, loop: asyncio.AbstractEventLoop) -> Transport:
    return PahoTransport(broker=cfg.broker, client_id=f"anxin-hub-{cfg.hub_id}", loop=loop,
                         will=last_will(cfg.hub_id))


class HubService:
    """One home's hub. Use ``async with HubService(cfg) as hub:``."""

    def __init__(self, cfg: HubConfig, *, transport: TransportFactory = paho_transport,
                 pins: Factory | None = None, speaker: Speaker | None = None) -> None:
        self.cfg = cfg
        self._make_transport = transport
        self.hw = Hardware.build(cfg, pins)
        self.speaker: Speaker = speaker or self.hw.speaker
        self.store, self._store_damage = HubStore.open_or_recover(
            cfg.data_dir / "hub.db", cfg.tz, telemetry_max_bytes=int(cfg.outbox.telemetry_max_mb * 2**20))
        self.outbox = Outbox(self.store, cfg.hub_id, cfg.outbox.keep_acked_days)
        self.senses = Senses(cfg)
        self.decoder = AdvertDecoder(cfg.ble.keys, counts=self.store.ble_counts())  # replay protection
        self._count_unsaved = False  # a BLE count could not be written (logged once until it can)
        self.supervisor = Supervisor()
        rules, warnings = load_hub_rules(cfg)
        for w in warnings:
            log.warning("%s", w)
        self.engine = Engine(rules, now=time.time(), category=cfg.elder_category, tz=cfg.tz)
        self._clock = JumpDetector(time.time(), time.monotonic())
        # open alarm -> clock steps seen by the time it was raised / sent (hub/runtime/clockjump.py)
        self._steps_raised: dict[str, float] = {}
        self._steps_sent: dict[str, float] = {}
        self._rules_changed = asyncio.Event()  # an event may have moved the rules' next deadline
        self._escalated: set[str] = set()  # alarms the elder was told are not acknowledged yet
        self._pressed_at: dict[str, tuple[float, float]] = {}  # call button -> (time of its
        # latest press, clock steps seen by then)
        self._undecided: set[str] = set()  # pressed during a pre-alarm or an open call: a hold
        # (cancel), or a call / a press again? known at the hold or the release
        self.reassure = Reassurance(cfg.reassure_s)  # please_wait while a call waits for an officer
        self._noted: set[tuple[str, str | None]] = set()  # (MAC, refusal) already logged
        self.tasks = Tasks(log)
        self.walktest = WalkTestMode()
        self._walktest_ends: asyncio.TimerHandle | None = None
        self._control = Control(self)
        v = cfg.voice
        self.calls = CallMachine(Limits(silence_s=v.silence_s, max_s=v.max_call_s,
                                        announce_s=v.announce_s))
        self.call_audio: CallAudio | None = None  # the open call's audio
        self._calls_changed = asyncio.Event()
        self._announcing: asyncio.Task[None] | None = None  # waits for the announcement to end
        self.voice_rejected = 0  # voice/down packets that were not voice packets
        self.on_alarm_raised: Callable[[Event], None] | None = None  # for instrumentation
        self.on_event: Callable[[Event], None] | None = None  # every hub event, for tests

    @property
    def pins(self) -> Factory:
        return self.hw.pins

    async def __aenter__(self) -> HubService:
        loop = asyncio.get_running_loop()
        self.link = Uplink(hub=self.cfg.hub_id, transport=self._make_transport(self.cfg, loop),
                           store=self.store, config=self.cfg.link,
                           on_ack=self._delivered, on_update=self._station_update,
                           on_reachable=self._reachable, on_call=self._call_control,
                           on_voice=self._voice_down)
        self.outbox.wake = self.link.push
        try:
            for alarm in self.store.open_alarms():  # after a restart, show where things stand
                if elder_facing(alarm.kind):
                    self._apply([a for a in feedback(alarm.state) if isinstance(a, ShowLed)])
                if alarm.state is AlarmState.DELIVERED and reassured(alarm.kind):
                    self.reassure.waiting(alarm.id, time.monotonic())
            self.link.start()
            self._reachable(False)  # 'fault' until the broker is reached
            now = time.time()
            for s in self.cfg.ble.sensors:
                self.supervisor.watch(s.name, self.cfg.ble.silence_for(s), now)
            await self.hw.start(Inputs(press=self.press, hold=self.hold, release=self.release,
                                       mains=self._mains,
                                       radar=self._radar, radar_status=self._radar_status,
                                       advert=self._advert, ble_status=self._ble_status))
            self.tasks.loop("sensor supervision", self._supervise)
            self.tasks.loop("rule timers", self._run_rules)
            self.tasks.loop("outbox pruning", self.outbox.prune, retry_s=PRUNE_EVERY_S)
            self.tasks.loop("call timeouts", self._run_calls)
            if self.hw.ble and self.hw.ble.task:
                self.tasks.watch("bluetooth scan", self.hw.ble.task)
            await self._control.start()
            for held in self.store.held():  # a restart ended their window: better sent than lost
                self._release(held)
            if self._store_damage:  # what was waiting in it may be lost: the station must know
                self.raise_alarm(Event(kind="hub.store_damaged", source="hub", alarm="hub_fault",
                                       data={"reason": self._store_damage[:500]}))
            log.info("hub %s up (GPIO %s, radar %s, %d BLE sensor(s), %d pending)", self.cfg.hub_id,
                     self.cfg.gpio.backend, self.cfg.radar.model if self.cfg.radar else "none",
                     len(self.cfg.ble.sensors), self.store.pending_count())
        except BaseException:  # a half-started hub must not leave threads, GPIO or the DB open
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        """The microphone first; inputs, then the loops that act on them, then the uplink and
        the store."""
        self._carry(self.calls.end(None, EndReason.HUB_STOPPED, time.monotonic()))
        if self._announcing:
            self._announcing.cancel()
        self.end_walktest("the hub stopped")
        self._control.close()
        await self.hw.close()
        await self.tasks.close()
        self.link.close()
        self.store.close()

    # --- inputs, on the loop -----------------------------------------------------------------

    def press(self, button: str, ts: float) -> None:
        """A button was pressed: a call button calls for help, the cancel button cancels."""
        cfg = next(b for b in self.cfg.buttons if b.name == button)
        if cfg.role == "cancel":
            self.handle(Event(kind="cancel.press", source=button, ts=ts))
            return
        self._now()  # a clock step before this press is not one between it and its hold
        self._pressed_at[button] = (ts, self._clock.total)
        if self.store.held() or self._open_call():
            # the elder is being asked (a fall), or their call is open: a hold will mean
            # "cancel", a short press "help" (or "I am still here"); which one is known at the
            # hold or the release, so a cancel is not first answered as a press again
            self._undecided.add(button)
            return
        self.handle(self._call(button, ts))

    def hold(self, button: str, ts: float) -> None:
        """A call button held down: cancels calls made before this press, never its own."""
        self._undecided.discard(button)
        self.handle(Event(kind="button.long", source=button, ts=ts,
                          data={"pressed": self._press_time(button, ts)}))

    def release(self, button: str, ts: float) -> None:
        if button in self._undecided:  # released before hold_s: a call for help after all
            self._undecided.discard(button)
            self.handle(self._call(button, self._press_time(button, ts)))

    def _press_time(self, button: str, default: float) -> float:
        """When the button went down, on the clock as it reads now (it may have been stepped)."""
        self._now()
        ts, steps = self._pressed_at.get(button, (default, self._clock.total))
        return ts + self._clock.total - steps

    def _call(self, button: str, ts: float) -> Event:
        cfg = next(b for b in self.cfg.buttons if b.name == button)
        return Event(kind="button.press", source=button, ts=ts,
                     data={"location": cfg.location} if cfg.location else {})

    def _mains(self, ok: bool, ts: float) -> None:
        self._handle_all(self.senses.mains(ok, ts))

    def _radar(self, reading: Any, ts: float) -> None:
        self._handle_all(self.senses.radar(reading, ts))

    def _radar_status(self, st: PortStatus) -> None:
        assert self.cfg.radar
        name, room = self.cfg.radar.name, self.cfg.radar.room
        if st.state == "silent":  # reported once no valid frame has come for silence_s
            quiet = self.cfg.radar.silence_s
            events = self.senses.status(name, room, "silent", False, st.ts, type="radar",
                                        reason=st.reason, silent_s=round(quiet), last_heard=st.ts - quiet)
        elif st.state == "talking":
            events = self.senses.status(name, room, "silent", True, st.ts, type="radar",
                                        reason=st.reason)
        else:
            events = self.senses.status(name, room, "lost", st.state == "open", time.time(),
                                        type="radar", reason=st.reason)
        log.log(logging.INFO if st.state in ("open", "talking") else logging.WARNING,
                "radar %s: %s %s", name, st.state, st.reason)
        self._handle_all(events)

    def _advert(self, advert: Advert) -> None:
        result = self.decoder.decode(advert)
        if result.counted:
            self._keep_count(result.counted)
        if result.unknown or result.rejected:
            self._note_stranger(advert.mac, result.rejected.reason if result.rejected else None)
            return
        sensor = self.senses.sensor(advert.mac)
        if sensor is None:
            return
        battery = next((int(r.value) for r in result.readings
                        if r.kind == "battery" and isinstance(r.value, int | float)), None)
        self.walktest.heard(sensor.name, advert.rssi, battery)
        if self.supervisor.heard(sensor.name, advert.time):
            self._handle_all(self.senses.status(sensor.name, sensor.room, "silent", True,
                                                advert.time, type=sensor.type))
        for r in result.readings:
            self._handle_all(self.senses.ble(r, advert.time))

    def _keep_count(self, counted: Counted) -> None:
        """Persist the sensor's count. If the disk refuses, the decoder still holds it: replay
        protection lasts until the hub restarts, and the hub carries on."""
        try:
            self.store.keep_ble_count(counted)
        except Exception:
            if not self._count_unsaved:
                log.exception("BLE sensor %s: its count could not be saved; replay protection "
                              "holds until the hub restarts", counted.mac)
            self._count_unsaved = True
        else:
            self._count_unsaved = False

    def _note_stranger(self, mac: str, refused: str | None) -> None:
        """Log a neighbour's sensor once (``anxin pair`` lists them), and each kind of refused
        packet from our own sensors once; the decoder keeps the counts."""
        if (mac, refused) in self._noted:
            return
        self._noted.add((mac, refused))
        if refused == "restart":
            log.warning("BLE sensor %s: its counter went back, as after a new battery: the first "
                        "packet of the new count is not acted on, the ones after it are (a "
                        "replayed packet looks the same; further ones are only counted)", mac)
        elif refused:
            log.warning("BLE sensor %s: refused a %s packet (spoofed, replayed or wrong key?); "
                        "further ones are only counted", mac, refused)
        else:
            u = self.decoder.unknown.get(mac)
            log.info("BLE device %s (%s%s) is not in hub.yaml; ignored", mac,
                     u.protocol if u else "?", ", encrypted" if u and u.encrypted else "")

    def _ble_status(self, st: ScanStatus) -> None:
        log.log(logging.WARNING if st.state == "lost" else logging.INFO, "bluetooth: %s %s",
                st.state, st.reason)
        if st.state in ("lost", "found"):
            self._handle_all(self.senses.status("bluetooth", "", "lost", st.state == "found",
                                                st.ts, type="ble_adapter", reason=st.reason))

    @property
    def dead_tasks(self) -> list[str]:
        """The long-running tasks (the hub's and its uplink's) that have died."""
        return [*self.tasks.dead, *self.link.tasks.dead]

    async def _supervise(self) -> None:
        """One round: sleep until the next sensor is due to be heard from, then report the silent."""
        deadline = self.supervisor.next_deadline()
        delay = SUPERVISION_MAX_SLEEP_S if deadline is None else deadline - self._now()
        await asyncio.sleep(min(max(delay, 0.0), SUPERVISION_MAX_SLEEP_S))
        now = self._now()
        for name, quiet in self.supervisor.due(now):
            s = next(s for s in self.cfg.ble.sensors if s.name == name)
            log.warning("sensor %s silent for %.0f s", name, quiet)
            try:  # due() reported it once: the other sensors' reports must still go out
                self._handle_all(self.senses.status(name, s.room, "silent", False, now,
                                                    type=s.type, silent_s=round(quiet),
                                                    last_heard=now - quiet))
            except Exception:
                log.exception("reporting silent sensor %s failed", name)

    # --- decisions ---------------------------------------------------------------------------

    def _handle_all(self, events: list[Event]) -> None:
        for ev in events:
            self.handle(ev)

    def handle(self, ev: Event) -> None:
        """One event: the rules act locally first (siren, relay, prompt, alarm); what raised
        no alarm goes to the station as telemetry."""
        if self.on_event:
            self.on_event(ev)
        if self.walktest.takes(ev, time.monotonic()):
            self._walktest_seen(ev)
            return
        if ev.kind == "button.press" and (call := self._open_call()):
            # pressed again while the call is open: no second alarm; the elder is answered at
            # once and the station marks the call pressed again
            ev = dataclasses.replace(ev, kind="button.again", data={**ev.data, "ref": call})
        actions = self.engine.handle(ev, self._now())  # overdue timers first, then this event
        raised = self._do(actions)
        if ev.kind == "button.again":
            self._pressed_again(ev)
        elif ev.kind in CANCEL_GESTURES:
            # during a voice call the gesture hangs up: the elder can always close the microphone
            hung_up = self._carry(self.calls.end(None, EndReason.ELDER_HANGUP, time.monotonic()))
            ended_a_window = any(isinstance(a, CancelAlarm) for a in actions)
            self._cancel(ev, before=float(ev.data.get("pressed", ev.ts)),
                         quiet=ended_a_window or hung_up)
        elif ev.id not in raised:
            self.outbox.send(ev, "telemetry")
        self._rules_changed.set()

    def _do(self, actions: list[RuleAction]) -> set[str]:
        """Carry out the rules' actions; returns the trigger ids that raised an alarm."""
        triggers: set[str] = set()
        for a in actions:
            try:
                self._act(a, triggers)
            except Exception:  # one failed action (a full disk, a GPIO error) must not skip the rest
                log.exception("rule action %s failed", a)
        return triggers

    def _act(self, a: RuleAction, triggers: set[str]) -> None:
        match a:
            case RaiseAlarm(event=ev, priority=prio, contact_id=cid, hold=hold):
                triggers.add(str(ev.data.get("trigger_id", "")))
                if same := self.store.open_alarm(str(ev.alarm), ev.source):
                    # still open (e.g. a battery still low after a restart, a second fall): no
                    # second alarm, the station hears the repeat, and the rule's wait must
                    # not cancel (nor say it cancelled) what it never raised
                    self.engine.merged(ev.id, same)
                    self.outbox.send(dataclasses.replace(ev, alarm=None, data={**ev.data, "ref": same}),
                                     "telemetry")
                elif hold:
                    self.outbox.hold(ev, priority=prio, contact_id=cid)
                    self._steps_raised[ev.id] = self._clock.total
                    log.info("alarm %s held: %s from %s (%s)", ev.id, ev.alarm, ev.source, a.rule)
                else:
                    self.raise_alarm(ev, priority=prio, contact_id=cid)
            case SendAlarm(alarm_id=i):
                self._release(i)
            case CancelAlarm(alarm_id=i, rule=rule, cause=cause):
                self._cancel_held(i, cause.source if cause else "hub", f"rule {rule}")
            case Siren(pattern=pattern) if self.hw.siren:
                self.hw.siren.sound(pattern) if pattern else self.hw.siren.silence()
            case Relay(name=name, energise=on):
                if name in self.hw.relays:
                    self.hw.relays[name].set(on)
                    log.warning("relay %s %s", name, "energised" if on else "released")
                else:
                    log.error("a rule switches relay %r, which hub.yaml does not have", name)
            case OpenCall(alarm_id=alarm):
                # only an officer can start a call: the station hears that the rule asks for one
                log.info("a rule asks the station for a voice call%s",
                         f" on alarm {alarm}" if alarm else "")
                self.outbox.send(Event(kind="call.request", source="hub",
                                       data={"ref": alarm} if alarm else {}), "alarm")
            case Say() | ShowLed():
                self._apply([a])

    async def _run_rules(self) -> None:
        """One round: sleep until the rules' next deadline or the next reassurance of an elder
        waiting for an officer (or an event moves them), then tick."""
        deadline = self.engine.next_deadline()
        delay = None if deadline is None else deadline - self._now()
        if (reassure := self.reassure.next_deadline()) is not None:
            left = reassure - time.monotonic()
            delay = left if delay is None else min(delay, left)
        await sleep_or_wake(self._rules_changed, delay, RULES_MAX_SLEEP_S)
        self._do(self.engine.tick(self._now()))
        self.escalate()
        self._apply(self.reassure.tick(time.monotonic()))

    def _on_todays_clock(self, t: float, steps_then: float | None) -> float:
        """A time stored for an open alarm, moved by the clock steps since, so its age
        (escalation, the cancel window) is a real duration. None: from before this start."""
        return t + self._clock.total - (steps_then or 0.0)

    def _forget_steps(self, alarm: str) -> None:
        self._steps_raised.pop(alarm, None)
        self._steps_sent.pop(alarm, None)

    def _now(self) -> float:
        """Wall-clock time, after shifting the duration timers if the clock was stepped."""
        now = time.time()
        if step := self._clock.check(now, time.monotonic()):
            log.warning("the wall clock was stepped by %+.1f s; timers keep their lengths", step)
            self.engine.clock_jumped(step)
            self.supervisor.clock_jumped(step)
            self._rules_changed.set()
        return now

    def reload_rules(self) -> bool:
        """Load the rule files again; on any error the running rules stay, and it is logged."""
        try:
            rules, warnings = load_hub_rules(self.cfg)
        except ConfigError as e:
            log.error("rules not reloaded, the old ones keep running:\n%s", e)
            return False
        for w in warnings:
            log.warning("%s", w)
        self._do(self.engine.replace(rules))
        self._rules_changed.set()
        log.info("rules reloaded: %d rule(s)", len(rules.rules))
        return True

    def _open_call(self) -> str | None:
        return self.store.open_alarm("panic")

    def _pressed_again(self, ev: Event) -> None:
        """A press during the open call: in the alarm lane (after the call, durable, never
        behind telemetry), and the elder hears at once where the call stands."""
        self.outbox.send(ev, "alarm")
        ref = str(ev.data["ref"])
        state = next((a.state for a in self.store.open_alarms() if a.id == ref), None)
        log.info("call %s pressed again (%s)", ref, state.value if state else "closed")
        if state:
            self._apply(pressed_again(state))
            self.reassure.told(time.monotonic())

    def raise_alarm(self, ev: Event, *, priority: int | None = None, contact_id: int | None = None) -> None:
        """Persist first (synchronous=FULL); only then publish and tell the elder."""
        self.outbox.raise_alarm(ev, priority=priority, contact_id=contact_id)
        log.info("alarm %s raised: %s from %s", ev.id, ev.alarm, ev.source)
        self._steps_raised[ev.id] = self._steps_sent[ev.id] = self._clock.total
        self._feedback(str(ev.alarm), AlarmState.SENT)
        if self.on_alarm_raised:
            self.on_alarm_raised(ev)

    def _release(self, alarm_id: str) -> None:
        """A held pre-alarm goes out: its window ran out, or a restart ended it. Its ``ts``
        stays when it was detected; ``data.sent`` says when it went out."""
        if not self.outbox.release(alarm_id):
            return
        log.info("alarm %s released to the station", alarm_id)
        self._steps_sent[alarm_id] = self._clock.total
        self._feedback(self.store.kind_of(alarm_id) or "", AlarmState.SENT)

    def _cancel(self, ev: Event, before: float, quiet: bool = False) -> None:
        """The elder's cancel gesture: ends their own recent calls that no officer has taken,
        and hushes the siren (the hazard alarm itself stays with the station). Held
        pre-alarms (a fall being asked about) are the rules' to cancel."""
        if self.hw.siren and self.hw.siren.pattern:
            self.hw.siren.silence()
        standing = [Standing(a.id, a.kind, a.state,
                             self._on_todays_clock(a.raised, self._steps_raised.get(a.id)))
                    for a in self.store.open_alarms()]
        victims, why_not = cancel_gesture(standing, at=ev.ts, pressed=before,
                                          window_s=self.cfg.cancel_window_s)
        if not victims:
            if not quiet:
                self._apply(why_not)
                self.reassure.told(time.monotonic())
            return
        for i in victims:
            self._send_cancel(i, ev.source, ev.ts, ev.kind)
        self._apply(feedback(AlarmState.CANCELLED, others_open=bool(self.store.open_alarms())))

    def _cancel_held(self, alarm_id: str, source: str, by: str) -> None:
        """A pre-alarm cancelled in its window: the station gets it and its cancellation."""
        if self.outbox.cancel_held(alarm_id, source, by):
            self._forget_steps(alarm_id)
            log.info("alarm %s cancelled in its window (%s)", alarm_id, by)

    def _send_cancel(self, alarm_id: str, source: str, ts: float, by: str) -> None:
        self.outbox.cancel(alarm_id, source, ts, by)
        self._escalated.discard(alarm_id)
        self.reassure.done(alarm_id)
        self._forget_steps(alarm_id)
        log.info("alarm %s cancelled at home (%s)", alarm_id, by)

    def escalate(self, now: float | None = None) -> None:
        """No station acknowledgement within escalate_s: the hub keeps retrying (the uplink
        does), tells the elder it is still trying, and sounds its siren."""
        now = self._now() if now is None else now
        cutoff = now - self.cfg.link.escalate_s
        for a in self.store.open_alarms():
            # a clock step since it was sent moved "now", not the moment it was sent
            sent = None if a.sent is None else self._on_todays_clock(a.sent, self._steps_sent.get(a.id))
            if (a.state is AlarmState.SENT and sent is not None and sent <= cutoff
                    and a.id not in self._escalated and elder_facing(a.kind)):
                self._escalated.add(a.id)
                log.warning("alarm %s not acknowledged by the station after %.0f s: still trying",
                            a.id, now - sent)
                self._apply([Say("still_trying"), ShowLed("fault")])
                if self.hw.siren and not self.hw.siren.pattern:
                    self.hw.siren.sound("panic")

    # --- the station's answers ---------------------------------------------------------------

    def _delivered(self, ids: list[str], station_ts: float) -> None:
        self.walktest.acked(ids, time.monotonic())
        for i in self.store.ack(ids, station_ts):
            if self.store.advance(i, AlarmState.DELIVERED, station_ts):
                log.info("alarm %s delivered to the station", i)
                if i in self._escalated:
                    self._escalated.discard(i)
                    if self.hw.siren and self.hw.siren.pattern == "panic":
                        self.hw.siren.silence()
                kind = self.store.kind_of(i) or ""
                self._feedback(kind, AlarmState.DELIVERED)
                if reassured(kind):
                    self.reassure.waiting(i, time.monotonic())
                    self._rules_changed.set()  # the rules' loop wakes for it too

    def _station_update(self, u: wire.AlarmUpdate) -> None:
        if u.state.closed:
            self._forget_steps(u.id)
        if u.state is not AlarmState.DELIVERED:  # taken, or closed: the elder stops waiting
            self.reassure.done(u.id)
        if self.store.advance(u.id, u.state, u.ts):
            log.info("alarm %s %s at the station%s", u.id, u.state.value,
                     f" by {u.officer}" if u.officer else "")
            self._feedback(self.store.kind_of(u.id) or "", u.state)

    def _feedback(self, kind: str, state: AlarmState) -> None:
        """Tell the elder how their alarm is going; technical alarms stay quiet at home."""
        if elder_facing(kind):
            others = any(elder_facing(a.kind) for a in self.store.open_alarms())
            self._apply(feedback(state, others_open=others))

    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Say):
                self.say(a.prompt)
            elif self.hw.led:
                resting = a.pattern == "idle" and not self.link.reachable
                self.hw.led.show("fault" if resting else a.pattern)

    def say(self, prompt: str) -> str:
        """Speak a prompt (a key of hub.voice.prompts) in the home's language; returns its text."""
        said = text(prompt, self.cfg.language)
        self.speaker.say(prompt, said)
        return said

    def _reachable(self, up: bool) -> None:
        """The station came or went: a resting LED shows it (an open alarm's own pattern, or
        its escalation's, stays)."""
        if self.hw.led and not any(elder_facing(a.kind) for a in self.store.open_alarms()):
            self._apply([ShowLed("idle")])

    # --- voice calls ---------------------------------------------------------------------------

    def _call_control(self, msg: wire.CallControl) -> None:
        now = time.monotonic()
        if msg.op == "end":
            self._carry(self.calls.end(msg.call, EndReason.HANGUP, now))
        elif self.hw.phone is None or not isinstance(self.speaker, AudioSpeaker):
            log.warning("call %s refused: this hub has no speakerphone (speaker.backend: %s)",
                        msg.call, self.cfg.speaker.backend)
            self._report(Report("call.end", msg.call, msg.alarm, msg.visit, EndReason.NO_AUDIO))
        else:
            elder_called = msg.alarm is not None and self.store.kind_of(msg.alarm) in ELDER_CALLS
            self._carry(self.calls.start(msg.call, alarm=msg.alarm, visit=msg.visit,
                                         announce=msg.announce or not elder_called, now=now))

    def _carry(self, effects: list[Effect]) -> bool:
        """Carry out what the call machine decided; True if it decided anything."""
        for e in effects:
            try:
                match e:
                    case Announce():
                        self._announce(e)
                    case OpenMic(call=call):
                        self._open_mic(call)
                    case CloseMic():
                        self._close_mic()
                    case Report():
                        self._report(e)
                    case Say():
                        self._apply([e])
            except Exception:  # the call must still end and be reported
                log.exception("call step %s failed", e)
        if effects:
            self._calls_changed.set()
        return bool(effects)

    def _announce(self, a: Announce) -> None:
        """Queue the announcement and open the microphone once it has been played. Without
        its audio files the call ends: the microphone is never opened unannounced."""
        assert isinstance(self.speaker, AudioSpeaker) and self.hw.phone
        clip = self.speaker.clips.get(a.prompt)
        if clip is None or (a.tone and a.tone not in self.speaker.tones):
            log.error("call %s: the announcement (%s %s) has no audio file; call refused", a.call,
                      a.tone or "", a.prompt)
            self._carry(self.calls.end(a.call, EndReason.NO_AUDIO, time.monotonic()))
            return
        length = self.speaker.tone(a.tone) if a.tone else 0.0
        self.say(a.prompt)
        length += len(clip) / self.hw.phone.rate
        self._announcing = asyncio.get_running_loop().create_task(self._when_said(a.call, length))

    async def _when_said(self, call: str, length: float) -> None:
        phone = self.hw.phone
        assert phone is not None
        await asyncio.sleep(length)  # the speaker's thread has handed it over by then
        while not phone.idle():
            await asyncio.sleep(ANNOUNCE_POLL_S)
        self._carry(self.calls.announced(call, time.monotonic()))

    def _open_mic(self, call: str) -> None:
        assert self.hw.phone is not None
        audio = CallAudio(self.hw.phone, call, self.link.publish_voice, speakerphone_echo=True,
                          bitrate=self.cfg.voice.bitrate)
        audio.volume = self.cfg.speaker.volume
        try:
            audio.start()
        except (AudioUnavailable, RuntimeError) as e:
            log.error("call %s: the microphone would not open: %s", call, e)
            self._carry(self.calls.end(call, EndReason.NO_AUDIO, time.monotonic()))
            return
        self.call_audio = audio
        alarm = self.calls.call.alarm if self.calls.call else None
        log.info("call %s: microphone open (%s)", call, f"alarm {alarm}" if alarm else "visit")
        if alarm:
            self.reassure.done(alarm)
        if alarm and self.store.advance(alarm, AlarmState.IN_CALL, time.time()):
            self._feedback(self.store.kind_of(alarm) or "", AlarmState.IN_CALL)
        elif self.hw.led:
            self._apply([ShowLed("talking")])

    def _close_mic(self) -> None:
        if self.call_audio:
            stats = self.call_audio.stats
            self.call_audio.stop()
            log.info("call %s: microphone closed; sent %d packets, received %d, lost %d",
                     self.call_audio.call, stats["sent_packets"], stats["received_packets"],
                     stats["lost"])
            self.call_audio = None
        if self.hw.phone and self.hw.phone.mic_open:  # never: the speakerphone is ours alone
            log.error("the microphone is still open after the call; closing it")
            self.hw.phone.end_call()
        if not any(elder_facing(a.kind) for a in self.store.open_alarms()):
            self._apply([ShowLed("idle")])

    def _report(self, r: Report) -> None:
        data = {"call": r.call, "ref": r.alarm, "visit": r.visit,
                "reason": r.reason.value if r.reason else None, "seconds": r.seconds}
        log.info("%s %s %s", r.kind, r.call, r.reason or "")
        self.outbox.send(Event(kind=r.kind, source="hub",
                               data={k: v for k, v in data.items() if v is not None}), "alarm")

    def _voice_down(self, data: bytes) -> None:
        """A packet from the officer: to the open call's audio, if it is that call's."""
        try:
            call = decode_packet(data).call
        except VoiceError as e:
            self.voice_rejected += 1
            if self.voice_rejected == 1:
                log.warning("refused a voice packet (%s); further ones are only counted", e)
            return
        if self.calls.packet(call, time.monotonic()) and self.call_audio:
            self.call_audio.on_packet(data)

    async def _run_calls(self) -> None:
        """One round of the call's timeouts: sleep until its next deadline, or until the call
        changes."""
        deadline = self.calls.next_deadline()
        await sleep_or_wake(self._calls_changed,
                            None if deadline is None else deadline - time.monotonic(), CALLS_MAX_SLEEP_S)
        self._carry(self.calls.tick(time.monotonic()))

    # --- walk-test mode ------------------------------------------------------------------------

    def start_walktest(self, seconds: float, installer: str) -> None:
        """Device events become tests until ``seconds`` from now (or end_walktest); a repeated
        start sets a new end. The station is told, so duty staff see the home is in a test."""
        ev = self.walktest.start(seconds=seconds, installer=installer, now=time.time(),
                                 mono=time.monotonic())
        self.send_walktest(ev)
        if self._walktest_ends:
            self._walktest_ends.cancel()
        self._walktest_ends = asyncio.get_running_loop().call_later(
            seconds, self.end_walktest, "its time ran out")
        log.warning("walk-test mode on for %.0f min (installer %r): device events are tests, "
                    "not alarms", seconds / 60, installer)
        self.say("walktest_on")

    def end_walktest(self, reason: str) -> None:
        """Back to normal. What the devices reported during the test never reached the rules,
        so the senses forget it: a detector still in alarm (smoke, mains off) raises its real
        alarm at its next reading."""
        ev = self.walktest.stop(reason, time.time())
        if ev is None:
            return
        if self._walktest_ends:
            self._walktest_ends.cancel()
            self._walktest_ends = None
        self.send_walktest(ev)
        log.warning("walk-test mode off: %s", reason)
        self.senses = Senses(self.cfg)
        if self.hw.mains:
            self._mains(self.hw.mains_ok, time.time())
        self.say("walktest_off")

    def send_walktest(self, ev: Event) -> None:
        """A walk-test event goes in the alarm lane (it must not wait behind a telemetry
        backlog, and its acknowledgement times the round trip), without an alarm row."""
        self.outbox.send(ev, "alarm")
        self.walktest.sent(ev.id, time.monotonic())

    def _walktest_seen(self, ev: Event) -> None:
        """A device tested: the station records it; the installer hears a chirp and a prompt."""
        test, announce = self.walktest.record(ev, time.monotonic())
        self.send_walktest(test)
        log.info("walk test: %s %s", ev.source, ev.kind)
        if announce:
            self.say("walktest_seen")
            siren = self.hw.siren
            if siren and siren.pattern is None:  # never over a real alarm's cadence
                siren.sound("chirp")
                asyncio.get_running_loop().call_later(
                    CHIRP_S, lambda: siren.silence() if siren.pattern == "chirp" else None)

