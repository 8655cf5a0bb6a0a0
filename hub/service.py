"""The hub: devices in, alarms through the durable outbox and uplink, feedback to the elder.

Everything runs on one asyncio loop; driver callbacks arrive from their own threads and are
handed over by :mod:`hub.hardware`. Readings become events (:mod:`hub.senses`); events that
matter locally raise alarms and drive the siren and relays (:mod:`hub.triggers`); everything
else goes to the station as telemetry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from gpiozero.pins import Factory

from drivers.ble.advert import Advert
from drivers.ble.decode import AdvertDecoder
from drivers.ble.scanner import ScanStatus
from drivers.radar.port import PortStatus
from drivers.speaker import Speaker
from drivers.speaker.sim import LogSpeaker
from hub import simhome, wire
from hub.alarms import Action, Say, ShowLed, feedback
from hub.config import HubConfig
from hub.events import CANCEL_KIND, AlarmState, Event
from hub.hardware import Hardware, Inputs
from hub.link import Uplink, last_will
from hub.mqtt import PahoTransport, Transport
from hub.prompts import text
from hub.senses import Senses
from hub.store import HubStore
from hub.supervision import Supervisor
from hub.triggers import CANCEL_GESTURES, CANCELLABLE, SIREN_FOR, react

log = logging.getLogger(__name__)

TransportFactory = Callable[[HubConfig, asyncio.AbstractEventLoop], Transport]
SUPERVISION_MAX_SLEEP_S = 60.0


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
        self.speaker: Speaker = speaker or LogSpeaker()
        self.store = HubStore(cfg.data_dir / "hub.db")
        self.senses = Senses(cfg)
        self.decoder = AdvertDecoder({s.mac: bytes.fromhex(s.bindkey) if s.bindkey else None
                                      for s in cfg.ble.sensors})
        self.supervisor = Supervisor()
        self._sensor_by_mac = {s.mac: s for s in cfg.ble.sensors}
        self._hazards: set[str] = set()  # hazards (smoke, gas, co) a sensor reports right now
        self._pressed_at: dict[str, float] = {}  # call button -> time of its latest press
        self._noted: set[tuple[str, str | None]] = set()  # (MAC, refusal) already logged
        self._tasks: list[asyncio.Task[None]] = []
        self._sim: simhome.SimHome | None = None
        self.on_alarm_raised: Callable[[Event], None] | None = None  # for instrumentation
        self.on_event: Callable[[Event], None] | None = None  # every hub event, for tests

    @property
    def pins(self) -> Factory:
        return self.hw.pins

    async def __aenter__(self) -> HubService:
        loop = asyncio.get_running_loop()
        self.link = Uplink(hub=self.cfg.hub_id, transport=self._make_transport(self.cfg, loop),
                           store=self.store, config=self.cfg.link,
                           on_ack=self._delivered, on_update=self._station_update)
        for alarm in self.store.open_alarms():  # after a restart, show where things stand
            self._apply([a for a in feedback(alarm.state) if isinstance(a, ShowLed)])
        self.link.start()
        now = time.time()
        for s in self.cfg.ble.sensors:
            self.supervisor.watch(s.name, self.cfg.ble.silence_for(s), now)
        await self.hw.start(Inputs(press=self.press, hold=self.hold, mains=self._mains,
                                   radar=self._radar, radar_status=self._radar_status,
                                   advert=self._advert, ble_status=self._ble_status))
        self._tasks.append(asyncio.create_task(self._supervise()))
        if self.cfg.simulated:
            self._sim = simhome.SimHome(self)
            await self._sim.start()
        log.info("hub %s up (GPIO %s, radar %s, %d BLE sensor(s), %d pending)", self.cfg.hub_id,
                 self.cfg.gpio.backend, self.cfg.radar.model if self.cfg.radar else "none",
                 len(self.cfg.ble.sensors), self.store.pending_count())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._sim:
            self._sim.close()
        for t in self._tasks:
            t.cancel()
        self.link.close()
        await self.hw.close()
        self.store.close()

    # --- inputs, on the loop -----------------------------------------------------------------

    def press(self, button: str, ts: float) -> None:
        """A button was pressed: a call button calls for help, the cancel button cancels."""
        cfg = next(b for b in self.cfg.buttons if b.name == button)
        if cfg.role == "cancel":
            self.handle(Event(kind="cancel.press", source=button, ts=ts))
            return
        self._pressed_at[button] = ts
        self.handle(Event(kind="button.press", source=button, ts=ts,
                          data={"location": cfg.location} if cfg.location else {}))

    def hold(self, button: str, ts: float) -> None:
        """A call button held down: cancels calls made before this press, never its own."""
        self.handle(Event(kind="button.long", source=button, ts=ts,
                          data={"pressed": self._pressed_at.get(button, ts)}))

    def _mains(self, ok: bool, ts: float) -> None:
        self._handle_all(self.senses.mains(ok, ts))

    def _radar(self, reading: Any, ts: float) -> None:
        self._handle_all(self.senses.radar(reading, ts))

    def _radar_status(self, st: PortStatus) -> None:
        assert self.cfg.radar
        name, room = self.cfg.radar.name, self.cfg.radar.room
        if st.state in ("silent", "talking"):
            events = self.senses.status(name, room, "silent", st.state == "talking", time.time(),
                                        type="radar", reason=st.reason)
        else:
            events = self.senses.status(name, room, "lost", st.state == "open", time.time(),
                                        type="radar", reason=st.reason)
        log.log(logging.INFO if st.state in ("open", "talking") else logging.WARNING,
                "radar %s: %s %s", name, st.state, st.reason)
        self._handle_all(events)

    def _advert(self, advert: Advert) -> None:
        result = self.decoder.decode(advert)
        if result.unknown or result.rejected:
            self._note_stranger(advert.mac, result.rejected.reason if result.rejected else None)
            return
        sensor = self._sensor_by_mac.get(advert.mac)
        if sensor is None:
            return
        if self.supervisor.heard(sensor.name, advert.time):
            self._handle_all(self.senses.status(sensor.name, sensor.room, "silent", True,
                                                advert.time, type=sensor.type))
        for r in result.readings:
            self._handle_all(self.senses.ble(r, advert.time))

    def _note_stranger(self, mac: str, refused: str | None) -> None:
        """Log a neighbour's sensor once (``anxin pair`` lists them), and each kind of refused
        packet from our own sensors once; the decoder keeps the counts."""
        if (mac, refused) in self._noted:
            return
        self._noted.add((mac, refused))
        if refused:
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

    async def _supervise(self) -> None:
        while True:
            deadline = self.supervisor.next_deadline()
            delay = SUPERVISION_MAX_SLEEP_S if deadline is None else deadline - time.time()
            await asyncio.sleep(min(max(delay, 0.0), SUPERVISION_MAX_SLEEP_S))
            now = time.time()
            for name, quiet in self.supervisor.due(now):
                s = next(s for s in self.cfg.ble.sensors if s.name == name)
                log.warning("sensor %s silent for %.0f s", name, quiet)
                self._handle_all(self.senses.status(name, s.room, "silent", False, now,
                                                    type=s.type, silent_s=round(quiet)))

    # --- decisions ---------------------------------------------------------------------------

    def _handle_all(self, events: list[Event]) -> None:
        for ev in events:
            self.handle(ev)

    def handle(self, ev: Event) -> None:
        """One event: local reactions first (siren, relay, alarm), then the station."""
        if self.on_event:
            self.on_event(ev)
        if ev.kind in CANCEL_GESTURES:
            self._cancel(ev, before=float(ev.data.get("pressed", ev.ts)))
            return
        if ev.kind == "button.press" and (call := self._open_call()):
            # pressed again while the call is open: the station hears it, no second alarm
            self._send(dataclasses.replace(ev, kind="button.again", data={**ev.data, "ref": call}))
            return
        r = react(ev.kind)
        sense = ev.kind.partition(".")[0]
        if sense in SIREN_FOR:
            self._hazard(sense, on=ev.kind.endswith(".on"))
        if r.relay and r.relay in self.hw.relays:
            self.hw.relays[r.relay].set(True)
            log.warning("relay %s energised for %s", r.relay, sense)
        if r.prompt:
            self._apply([Say(r.prompt)])
        if r.alarm:
            self.raise_alarm(dataclasses.replace(ev, alarm=r.alarm))
        else:
            self._send(ev)

    def _open_call(self) -> str | None:
        return next((a.id for a in self.store.open_alarms() if a.kind == "panic"), None)

    def _hazard(self, sense: str, on: bool) -> None:
        """The siren sounds while any hazard is reported, in the cadence of the worst one."""
        (self._hazards.add if on else self._hazards.discard)(sense)
        if self.hw.siren:
            loudest = next((SIREN_FOR[h] for h in ("smoke", "co", "gas") if h in self._hazards), None)
            if loudest:
                self.hw.siren.sound(loudest)
            else:
                self.hw.siren.silence()

    def raise_alarm(self, ev: Event) -> None:
        """Persist first (synchronous=FULL); only then publish and tell the elder."""
        payload = wire.encode(wire.event_msg(self.cfg.hub_id, ev))
        self.store.put(ev.id, payload, alarm=True, alarm_kind=ev.alarm, raised=ev.ts)
        log.info("alarm %s raised: %s from %s", ev.id, ev.alarm, ev.source)
        self.link.send(ev.id, payload)
        self._apply(feedback(AlarmState.SENT))
        if self.on_alarm_raised:
            self.on_alarm_raised(ev)

    def _send(self, ev: Event) -> None:
        payload = wire.encode(wire.event_msg(self.cfg.hub_id, ev))
        self.store.put(ev.id, payload, alarm=False)
        self.link.send(ev.id, payload)

    def _cancel(self, ev: Event, before: float) -> None:
        """The elder's cancel gesture: ends their own recent calls that no officer has taken,
        and hushes the siren (the hazard alarm itself stays with the station)."""
        if self.hw.siren and self.hw.siren.pattern:
            self.hw.siren.silence()
        cutoff = ev.ts - self.cfg.cancel_window_s
        open_alarms = self.store.open_alarms()
        victims = [a for a in open_alarms if a.kind in CANCELLABLE and cutoff <= a.raised < before
                   and a.state in (AlarmState.SENT, AlarmState.DELIVERED)]
        if not victims:
            if any(a.state in (AlarmState.CLAIMED, AlarmState.IN_CALL) for a in open_alarms):
                self._apply([Say("cancel_too_late")])
            log.info("%s from %s: nothing to cancel", ev.kind, ev.source)
            return
        for a in victims:
            cancel = Event(kind=CANCEL_KIND, source=ev.source, ts=ev.ts, data={"ref": a.id, "by": ev.kind})
            payload = wire.encode(wire.event_msg(self.cfg.hub_id, cancel))
            self.store.put(cancel.id, payload, alarm=True)
            self.store.advance(a.id, AlarmState.CANCELLED, ev.ts)
            log.info("alarm %s cancelled at home (%s)", a.id, ev.kind)
            self.link.send(cancel.id, payload)
        self._apply(feedback(AlarmState.CANCELLED, others_open=bool(self.store.open_alarms())))

    # --- the station's answers ---------------------------------------------------------------

    def _delivered(self, ids: list[str], station_ts: float) -> None:
        for i in self.store.ack(ids, station_ts):
            if self.store.advance(i, AlarmState.DELIVERED, station_ts):
                log.info("alarm %s delivered to the station", i)
                self._apply(feedback(AlarmState.DELIVERED))

    def _station_update(self, u: wire.AlarmUpdate) -> None:
        if self.store.advance(u.id, u.state, u.ts):
            log.info("alarm %s %s at the station%s", u.id, u.state.value,
                     f" by {u.officer}" if u.officer else "")
            self._apply(feedback(u.state, others_open=bool(self.store.open_alarms())))

    def _apply(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Say):
                self.speaker.say(a.prompt, text(a.prompt, self.cfg.language))
            elif self.hw.led:
                self.hw.led.show(a.pattern)


async def run_hub(cfg: HubConfig, stop: asyncio.Event) -> None:
    async with HubService(cfg):
        await stop.wait()
