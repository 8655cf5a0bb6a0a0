"""The hub: devices in, alarms through the durable outbox and uplink, feedback to the elder.

The service composes the parts and routes between them; each part does one thing:

- :mod:`hub.runtime.hardware`: the devices; their callbacks reach this loop, in order.
- :mod:`hub.runtime.senses` (and :mod:`hub.runtime.ble` for adverts): readings become events.
- :mod:`hub.rules`: what an event means at home (alarms, siren, relays, prompts), decided
  locally; everything that raised no alarm goes to the station as telemetry.
- :mod:`hub.runtime.alarms`: the home's alarms from raised to closed, persisted before told.
- :mod:`hub.runtime.outbox` and :mod:`hub.runtime.uplink`: to the station, at least once, in order.
- :mod:`hub.runtime.fallback`: with a modem, a life alarm the station cannot be told of is
  texted to the contacts by the hub itself.
- :mod:`hub.runtime.indicators`: what the elder hears and sees.
- :mod:`hub.runtime.call_session`: voice calls, started and ended by the station.
- :mod:`hub.runtime.walktest_session`: walk-test mode, through the control socket
  (:mod:`hub.runtime.control`): device events are tests instead, for no rules.

Everything runs on one asyncio loop. The long-running loops (sensor supervision, rule
timers, call timeouts, outbox pruning, the uplink's heartbeat and retries) run one round at a
time (:mod:`hub.common.tasks`): a round that fails is logged and the next one comes; a loop
that ends anyway stops the watchdog's pings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable

from gpiozero.pins import Factory

from drivers.speaker import Speaker
from hub.common.configfile import ConfigError
from hub.common.events import Event
from hub.common.tasks import Tasks
from hub.common.transport import PahoTransport, Transport
from hub.rules.actions import CancelAlarm, OpenCall, RaiseAlarm, Relay, RuleAction, SendAlarm, Siren
from hub.rules.engine import Engine
from hub.rules.feedback import Say, ShowLed
from hub.runtime.alarms import HomeAlarms
from hub.runtime.ble import SUPERVISION_MAX_SLEEP_S, Bluetooth
from hub.runtime.call_session import CALLS_MAX_SLEEP_S, CallSession
from hub.runtime.clockjump import Clock
from hub.runtime.config import HubConfig, load_hub_rules
from hub.runtime.control import Control
from hub.runtime.fallback import Fallback
from hub.runtime.hardware import Hardware, Inputs
from hub.runtime.indicators import Indicators
from hub.runtime.outbox import PRUNE_EVERY_S, Outbox
from hub.runtime.senses import Senses
from hub.runtime.store import HubStore
from hub.runtime.uplink import Uplink, last_will
from hub.runtime.walktest_session import WalkTestSession

log = logging.getLogger(__name__)

TransportFactory = Callable[[HubConfig, asyncio.AbstractEventLoop], Transport]
RULES_MAX_SLEEP_S = 5.0  # also how often unacknowledged alarms are checked for escalation
CANCEL_GESTURES = frozenset({"cancel.press", "button.long"})


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
        self.clock = Clock()
        self.show = Indicators(self.speaker, self.hw.led, cfg.language, open_alarms=self.store.open_alarms)
        self.alarms = HomeAlarms(cfg, self.outbox, self.show, self.clock, self.hw.siren)
        self.senses = Senses(cfg)
        self.walktest = WalkTestSession(send=self.outbox.send, say=self.show.say, siren=self.hw.siren,
                                        ended=self._after_walktest)
        self.ble = Bluetooth(cfg, self.store, self.senses, emit=self._handle_all,
                             heard=self.walktest.heard, now=self.clock.now)
        rules, warnings = load_hub_rules(cfg)
        for w in warnings:
            log.warning("%s", w)
        self.engine = Engine(rules, now=time.time(), category=cfg.elder_category, tz=cfg.tz)
        self._rules_changed = asyncio.Event()  # an event may have moved the rules' next deadline
        self.clock.on_step.append(self._clock_stepped)
        self.calls = CallSession(cfg, self.hw.phone, self.speaker, apply=self.show.apply,
                                 report=lambda ev: self.outbox.send(ev, "alarm"),
                                 kind_of=self.store.kind_of, mic_opened=self.alarms.in_call,
                                 mic_closed=self.show.rest)
        self.tasks = Tasks(log)
        self._control = Control(cfg, self.walktest, open_alarms=self.store.open_alarms,
                                say=self.show.say)
        self.fallback = Fallback(cfg, self.store, self.outbox) if cfg.modem else None
        self.on_event: Callable[[Event], None] | None = None  # every hub event, for tests

    @property
    def pins(self) -> Factory:
        return self.hw.pins

    async def __aenter__(self) -> HubService:
        loop = asyncio.get_running_loop()
        self.link = Uplink(hub=self.cfg.hub_id, transport=self._make_transport(self.cfg, loop),
                           store=self.store, config=self.cfg.link,
                           on_ack=self._delivered, on_update=self.alarms.station_update,
                           on_reachable=self._reachable, on_call=self.calls.control,
                           on_voice=self.calls.voice,
                           on_contacts=self.fallback.contacts if self.fallback else lambda c, p: None)
        self.outbox.wake, self.calls.publish_voice = self.link.push, self.link.publish_voice
        try:
            self.alarms.restore()
            self.link.start()
            self.show.reachable(self.link.reachable)  # 'fault' until the station is reached
            await self.hw.start(Inputs(
                press=self.press, hold=self.hold, release=self.release,
                mains=lambda ok, ts: self._handle_all(self.senses.mains(ok, ts)),
                radar=lambda r, ts: self._handle_all(self.senses.radar(r, ts)),
                radar_status=lambda st: self._handle_all(self.senses.radar_status(st, time.time())),
                advert=self.ble.advert,
                ble_status=lambda st: self._handle_all(self.senses.ble_status(st)),
                died=self.tasks.died))
            self.tasks.until("sensor supervision", self.ble.delay, self.ble.report_silent,
                             longest=SUPERVISION_MAX_SLEEP_S)
            self.tasks.until("rule timers", self._rules_delay, self._tick_rules,
                             longest=RULES_MAX_SLEEP_S, woken=self._rules_changed)
            self.tasks.loop("outbox pruning", self.outbox.prune, retry_s=PRUNE_EVERY_S)
            self.tasks.until("call timeouts", self.calls.delay, self.calls.tick,
                             longest=CALLS_MAX_SLEEP_S, woken=self.calls.changed)
            if self.hw.ble and self.hw.ble.task:
                self.tasks.watch("bluetooth scan", self.hw.ble.task)
            if self.fallback:
                self.tasks.loop("SMS fallback", self.fallback.round)
            await self._control.start()
            self.alarms.release_held()
            if self._store_damage:  # what was waiting in it may be lost: the station must know
                self.alarms.raise_alarm(Event(kind="hub.store_damaged", source="hub", alarm="hub_fault",
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
        self.calls.close()
        self.walktest.end("the hub stopped")
        self._control.close()
        await self.hw.close()
        await self.tasks.close()
        if self.fallback:
            await self.fallback.aclose()
        self.link.close()
        self.store.close()

    @property
    def dead_tasks(self) -> list[str]:
        """The long-running tasks (the hub's and its uplink's) that have died."""
        return [*self.tasks.dead, *self.link.tasks.dead]

    # --- inputs, on the loop -----------------------------------------------------------------

    def press(self, button: str, ts: float) -> None:
        """A button went down (the hardware's callbacks, on the loop; tests call them too)."""
        self.clock.now()  # a clock step before this press is not one between it and its hold
        self._handle_all(self.senses.press(button, ts, steps=self.clock.steps,
                                           undecided=self.alarms.asking()))

    def hold(self, button: str, ts: float) -> None:
        self.clock.now()
        self._handle_all(self.senses.hold(button, ts, steps=self.clock.steps))

    def release(self, button: str, ts: float) -> None:
        self.clock.now()
        self._handle_all(self.senses.release(button, ts, steps=self.clock.steps))

    def _after_walktest(self) -> None:
        """The senses forget what the test reported; the mains is read afresh."""
        self.senses.forget()
        if self.hw.mains:
            self._handle_all(self.senses.mains(self.hw.mains_ok, time.time()))

    # --- decisions ---------------------------------------------------------------------------

    def _handle_all(self, events: list[Event]) -> None:
        for ev in events:
            self.handle(ev)

    def handle(self, ev: Event) -> None:
        """One event: the rules act locally first (siren, relay, prompt, alarm); what raised
        no alarm goes to the station as telemetry."""
        if self.on_event:
            self.on_event(ev)
        if self.walktest.takes(ev):
            return
        if ev.kind == "button.press" and (call := self.alarms.open_call()):
            # pressed again while the call is open: no second alarm; the elder is answered at
            # once and the station marks the call pressed again
            ev = dataclasses.replace(ev, kind="button.again", data={**ev.data, "ref": call})
        actions = self.engine.handle(ev, self.clock.now())  # overdue timers first, then this event
        raised = self._do(actions)
        if ev.kind == "button.again":
            self.alarms.pressed_again(ev)
        elif ev.kind in CANCEL_GESTURES:
            hung_up = self.calls.hang_up()  # the elder can always close the microphone
            ended_a_window = any(isinstance(a, CancelAlarm) for a in actions)
            self.alarms.cancel(ev, before=float(ev.data.get("pressed", ev.ts)),
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
            case RaiseAlarm(event=ev):
                triggers.add(str(ev.data.get("trigger_id", "")))
                if same := self.alarms.rule_raised(a):
                    self.engine.merged(ev.id, same)  # its wait must not cancel what it never raised
            case SendAlarm(alarm_id=i):
                self.alarms.release(i)
            case CancelAlarm(alarm_id=i, rule=rule, cause=cause):
                self.alarms.cancel_held(i, cause.source if cause else "hub", f"rule {rule}")
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
                self.show.apply([a])

    def _clock_stepped(self, step: float) -> None:
        """Timers that measure a duration keep their length (hub/runtime/clockjump.py)."""
        self.engine.clock_jumped(step)
        self.ble.supervisor.clock_jumped(step)
        self._rules_changed.set()

    def _rules_delay(self) -> float | None:
        """Until the rules' next deadline or the next reassurance of an elder waiting for an
        officer, whichever comes first."""
        deadline = self.engine.next_deadline()
        delays = [d for d in (None if deadline is None else deadline - self.clock.now(),
                              self.alarms.reassure_delay()) if d is not None]
        return min(delays, default=None)

    def _tick_rules(self) -> None:
        self._do(self.engine.tick(self.clock.now()))
        self.alarms.tick()

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

    # --- the station's answers ---------------------------------------------------------------

    def _reachable(self, up: bool) -> None:
        self.show.reachable(up)
        if self.fallback:
            self.fallback.reachable(up)

    def _delivered(self, ids: list[str], station_ts: float) -> None:
        self.walktest.acked(ids)
        if self.alarms.delivered(ids, station_ts):
            self._rules_changed.set()  # the rules' loop wakes for the reassurance too
