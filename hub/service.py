"""The hub: drivers in, alarms through the durable outbox and uplink, feedback to the elder.

Everything runs on one asyncio loop; driver callbacks arrive from their own threads and are
handed over with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from gpiozero.pins import Factory
from gpiozero.pins.mock import MockFactory

from drivers.gpio.button import PushButton
from drivers.gpio.led import StatusLed
from drivers.gpio.pins import pin_factory
from drivers.gpio.sim import SimPins
from drivers.speaker import Speaker
from drivers.speaker.sim import LogSpeaker
from hub import simctl, wire
from hub.alarms import Action, Say, ShowLed, feedback
from hub.config import HubConfig
from hub.events import AlarmState, Event
from hub.link import Uplink, last_will
from hub.mqtt import PahoTransport, Transport
from hub.prompts import text
from hub.store import HubStore

log = logging.getLogger(__name__)

TransportFactory = Callable[[HubConfig, asyncio.AbstractEventLoop], Transport]


def paho_transport(cfg: HubConfig, loop: asyncio.AbstractEventLoop) -> Transport:
    return PahoTransport(broker=cfg.broker, client_id=f"anxin-hub-{cfg.hub_id}", loop=loop,
                         will=last_will(cfg.hub_id))


class HubService:
    """One home's hub. Use ``async with HubService(cfg) as hub:``."""

    def __init__(self, cfg: HubConfig, *, transport: TransportFactory = paho_transport,
                 pins: Factory | None = None, speaker: Speaker | None = None) -> None:
        self.cfg = cfg
        self._make_transport = transport
        self.pins = pins or pin_factory(cfg.gpio.backend)
        self.speaker: Speaker = speaker or LogSpeaker()
        self.store = HubStore(cfg.data_dir / "hub.db")
        self.buttons: list[PushButton] = []
        self.led: StatusLed | None = None
        self._sim: asyncio.Server | None = None
        self.on_alarm_raised: Callable[[Event], None] | None = None  # for instrumentation

    async def __aenter__(self) -> HubService:
        loop = asyncio.get_running_loop()
        self.link = Uplink(hub=self.cfg.hub_id, transport=self._make_transport(self.cfg, loop),
                           store=self.store, config=self.cfg.link,
                           on_ack=self._delivered, on_update=self._station_update)

        def edge(name: str, ts: float) -> None:  # gpiozero's thread
            loop.call_soon_threadsafe(self.press, name, ts)

        self.buttons = [PushButton(name=b.name, pin=b.pin, pin_factory=self.pins, on_press=edge)
                        for b in self.cfg.buttons]
        if self.cfg.status_led:
            self.led = StatusLed(pin=self.cfg.status_led.pin, pin_factory=self.pins)
        for alarm in self.store.open_alarms():  # after a restart, show where things stand
            self._apply([a for a in feedback(alarm.state) if isinstance(a, ShowLed)])
        self.link.start()
        if isinstance(self.pins, MockFactory):
            self._sim = await simctl.serve(self.cfg.sim_socket_path, self._sim_handlers())
        log.info("hub %s up (%s GPIO, %d pending)", self.cfg.hub_id, self.cfg.gpio.backend,
                 self.store.pending_count())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._sim:
            self._sim.close()
            self.cfg.sim_socket_path.unlink(missing_ok=True)
        self.link.close()
        for b in self.buttons:
            b.close()
        if self.led:
            self.led.close()
        self.store.close()

    def press(self, button: str, ts: float) -> None:
        """A call button was pressed: raise a panic alarm."""
        location = next((b.location for b in self.cfg.buttons if b.name == button), "")
        self.raise_alarm(Event(kind="button.press", source=button, ts=ts, alarm="panic",
                               data={"location": location} if location else {}))

    def raise_alarm(self, ev: Event) -> None:
        """Persist first (synchronous=FULL); only then publish and tell the elder."""
        payload = wire.encode(wire.event_msg(self.cfg.hub_id, ev))
        self.store.put(ev.id, payload, alarm=True, alarm_kind=ev.alarm, raised=ev.ts)
        log.info("alarm %s raised: %s from %s", ev.id, ev.alarm, ev.source)
        self.link.send(ev.id, payload)
        self._apply(feedback(AlarmState.SENT))
        if self.on_alarm_raised:
            self.on_alarm_raised(ev)

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
            elif self.led:
                self.led.show(a.pattern)

    def _sim_handlers(self) -> dict[str, simctl.Handler]:
        assert isinstance(self.pins, MockFactory)
        sim = SimPins(self.pins)
        pins = {b.name: b.pin for b in self.cfg.buttons}

        async def press(args: list[str]) -> str:
            name = args[0] if args else self.cfg.buttons[0].name
            if name not in pins:
                raise simctl.SimError(f"no button {name!r}; this home has: {', '.join(pins)}")
            await asyncio.to_thread(sim.click, pins[name])
            return f"pressed {name}"

        async def prompts(_: list[str]) -> list[dict[str, Any]]:
            heard = getattr(self.speaker, "heard", [])
            return [{"ts": ts, "key": key, "text": t} for ts, key, t in heard]

        async def state(_: list[str]) -> dict[str, Any]:
            return {"hub": self.cfg.hub_id, "connected": self.link.connected,
                    "pending": self.store.pending_count(),
                    "led": self.led.pattern if self.led else None,
                    "open_alarms": [{"id": a.id, "kind": a.kind, "state": a.state.value}
                                    for a in self.store.open_alarms()]}

        return {"press": press, "prompts": prompts, "state": state}


async def run_hub(cfg: HubConfig, stop: asyncio.Event) -> None:
    async with HubService(cfg):
        await stop.wait()
