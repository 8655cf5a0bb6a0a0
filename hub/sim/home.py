"""The controls of a simulated home, which `anxin sim HUB VERB` drives (hub/cli/sim.py).

Every simulated device is worked through its real backend: mock GPIO pins are pressed and
held, the pty radar plays real frames, BLE sensors send real (encrypted) adverts into the
simulated scanner. Sensors re-advertise their state every ``ADVERT_EVERY_S``, as real ones
do, so supervision sees them alive until told to fall silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

from drivers.ble.sim import SimSensor
from drivers.gpio.sim import SimPins
from drivers.radar.port import RadarUnavailable
from drivers.radar.setup import ACTIONS, RadarError, Wanted, run
from hub.common import linejson
from hub.common.linejson import SimError
from hub.common.tasks import Tasks
from hub.runtime.config import SensorConfig
from hub.runtime.service import HubService
from hub.sim.verbs import RADAR_CONTROLS, RADAR_VERBS, SENSOR_VERBS

ADVERT_EVERY_S = 10.0
HOLD_EXTRA_S = 0.3  # hold a little past hold_s so gpiozero's timer fires

# sensor type in hub.yaml -> the reading kind its simulated advert carries
SIM_KIND = {"smoke": "smoke", "gas": "gas", "co": "co", "door": "door", "window": "window",
            "leak": "moisture", "button": "button", "motion": "motion"}


class SimHome:
    def __init__(self, hub: HubService) -> None:
        self.hub = hub
        self.cfg = hub.cfg
        self.pins = SimPins(hub.pins) if self.cfg.gpio.backend == "sim" else None
        self.sensors: dict[str, SimSensor] = {}
        self.state: dict[str, bool] = {}  # sensor -> what it reports now
        self.battery: dict[str, int] = {}
        self.quiet: set[str] = set()  # sensors told to fall silent
        self._adverts = Tasks()
        if self.cfg.ble.backend == "sim":
            # a real sensor counts on while the hub is down: each goes on from its count in hub.db
            counts = {mac: count.high for (mac, _), (count, _) in hub.store.ble_counts().items()}
            for s in self.cfg.ble.sensors:
                self.sensors[s.name] = SimSensor(mac=s.mac, kind=SIM_KIND[s.type], name=s.name,
                                                 bindkey=s.key, counter=counts.get(s.mac, 0))
                self.state[s.name] = False
                self.battery[s.name] = 90

    # --- GPIO ----------------------------------------------------------------------------------

    def _pins(self) -> SimPins:
        if self.pins is None:
            raise SimError("this home's GPIO is real (gpio.backend: real)")
        return self.pins

    def _button(self, name: str | None, role: str = "call") -> tuple[str, int, float]:
        mine = [b for b in self.cfg.buttons if b.role == role]
        b = next((b for b in mine if b.name == name), None) if name else (mine[0] if mine else None)
        if b is None:
            raise SimError(f"no {role} button {name or ''!r}; this home has: "
                           f"{', '.join(b.name for b in self.cfg.buttons)}")
        return b.name, b.pin, b.hold_s

    async def press(self, args: list[str]) -> str:
        name, pin, _ = self._button(args[0] if args else None)
        await asyncio.to_thread(self._pins().click, pin)
        return f"pressed {name}"

    async def cord(self, args: list[str]) -> str:
        cords = [b.name for b in self.cfg.buttons if b.pull_cord and b.role == "call"]
        if not cords:
            raise SimError("this home has no pull cord (a button named *cord* or located at 拉绳)")
        return (await self.press([cords[0]])).replace("pressed", "pulled")

    async def hold(self, args: list[str]) -> str:
        name, pin, hold_s = self._button(args[0] if args else None)
        seconds = float(args[1]) if len(args) > 1 else hold_s + HOLD_EXTRA_S
        await asyncio.to_thread(self._pins().hold, pin, seconds)
        return f"held {name} for {seconds:.1f} s"

    async def cancel(self, args: list[str]) -> str:
        if any(b.role == "cancel" for b in self.cfg.buttons):
            name, pin, _ = self._button(None, role="cancel")
            await asyncio.to_thread(self._pins().click, pin)
            return f"pressed {name}"
        return await self.hold(args)  # no cancel button: the long press of a call button

    async def mains(self, ok: bool) -> str:
        if not self.cfg.mains:
            raise SimError("this home has no mains input (mains.pin)")
        await asyncio.to_thread(self._pins().drive, self.cfg.mains.pin, high=ok == self.cfg.mains.active_high)
        return "mains restored" if ok else "mains failed: running on the UPS battery"

    # --- radar ---------------------------------------------------------------------------------

    def _radar(self) -> Any:
        if self.hub.hw.sim_radar is None:
            raise SimError("this home has no simulated radar (radar.backend: sim)")
        return self.hub.hw.sim_radar

    async def radar(self, verb: str, _: list[str]) -> str:
        r = self._radar()
        if verb in RADAR_VERBS:
            r.play(RADAR_VERBS[verb])
            return f"radar: {verb}"
        getattr(r, {"radar-silent": "go_silent", "radar-resume": "resume", "radar-unplug": "unplug",
                    "radar-plug": "plug"}[verb])()
        return verb.replace("-", ": ")

    # --- BLE -----------------------------------------------------------------------------------

    def _sensor(self, type_: str | None, name: str | None) -> SensorConfig:
        for s in self.cfg.ble.sensors:
            if (name in (None, s.name)) and (type_ in (None, s.type)) and s.name in self.sensors:
                return s
        raise SimError(f"no simulated {type_ or ''} sensor {name or ''}; this home has: "
                       f"{', '.join(f'{s.name} ({s.type})' for s in self.cfg.ble.sensors) or 'none'}")

    def advertise(self, name: str) -> None:
        """One advert of the sensor's current state and battery into the simulated air."""
        scanner = self.hub.hw.sim_ble
        if scanner is not None and name not in self.quiet:
            scanner.inject(*self.sensors[name].advert(self.state[name], battery=self.battery[name]))

    async def sensor(self, verb: str, args: list[str]) -> str:
        type_, on = SENSOR_VERBS[verb]
        s = self._sensor(type_, args[0] if args else None)
        self.state[s.name] = on
        self.advertise(s.name)
        return f"{s.name}: {verb}"

    async def button(self, args: list[str]) -> str:
        s = self._sensor("button", args[0] if args else None)
        event = args[1] if len(args) > 1 else "press"
        if self.hub.hw.sim_ble:
            self.hub.hw.sim_ble.inject(*self.sensors[s.name].advert(event))
        return f"{s.name}: {event}"

    async def battery_low(self, args: list[str]) -> str:
        s = self._sensor(None, args[0] if args else None)
        if s.type == "button":
            raise SimError("simulated BLE buttons advertise only their presses")
        self.battery[s.name] = int(args[1]) if len(args) > 1 else 5
        self.advertise(s.name)
        return f"{s.name}: battery {self.battery[s.name]} %"

    async def silence(self, args: list[str], quiet: bool) -> str:
        s = self._sensor(None, args[0] if args else None)
        (self.quiet.add if quiet else self.quiet.discard)(s.name)
        if not quiet:
            self.advertise(s.name)
        return f"{s.name}: {'silent' if quiet else 'advertising again'}"

    def advertise_all(self) -> None:
        for name, s in self.sensors.items():
            if s.kind != "button":  # real BLE buttons mostly advertise only when pressed
                self.advertise(name)

    # --- what the home shows -------------------------------------------------------------------

    async def show_state(self, _: list[str]) -> dict[str, Any]:
        hub, hw = self.hub, self.hub.hw
        return {"hub": self.cfg.hub_id, "connected": hub.link.connected,
                "pending": hub.store.pending_count(),
                "led": hw.led.pattern if hw.led else None,
                "siren": hw.siren.pattern if hw.siren else None,
                "relays": {n: r.energised for n, r in hw.relays.items()},
                "mains": hw.mains_ok,
                "open_alarms": [{"id": a.id, "kind": a.kind, "state": a.state.value}
                                for a in hub.store.open_alarms()],
                "ble_rejected": {f"{mac} {why}": n for (mac, why), n in hub.ble.decoder.rejected.items()},
                "ble_unknown": sorted(hub.ble.decoder.unknown),
                "call": {"id": c.id, "phase": c.phase.value, "alarm": c.alarm, "visit": c.visit}
                if (c := hub.calls.call) else None,
                "mic_open": bool(hw.phone and hw.phone.mic_open),
                "voice": hub.calls.audio.stats if hub.calls.audio else None}

    async def played(self, args: list[str]) -> str:
        """Write what the simulated loudspeaker played (prompts, the officer's voice) to a WAV."""
        from drivers.audio.loopback import LoopbackAudio  # the audio stack only with a speaker

        device = self.hub.hw.phone.device if self.hub.hw.phone else None
        if not isinstance(device, LoopbackAudio) or len(args) != 1:
            raise SimError("usage: played FILE.wav (with speaker.backend: sim)")
        path = Path(args[0]).expanduser().resolve()
        await asyncio.to_thread(device.write_played, path)
        return f"wrote {len(device.played) / device.rate:.1f} s to {path}"

    async def prompts(self, _: list[str]) -> list[dict[str, Any]]:
        heard = getattr(self.hub.speaker, "heard", [])
        return [{"ts": ts, "key": key, "text": t} for ts, key, t in heard]

    async def strangers(self, _: list[str]) -> list[dict[str, Any]]:
        return [{**dataclasses.asdict(u), "data": u.data.hex()}
                for u in self.hub.ble.decoder.unknown.values()]

    async def stranger(self, args: list[str]) -> str:
        """A neighbour's sensor comes into range (encrypted unless ``plain``)."""
        scanner = self.hub.hw.sim_ble
        if scanner is None:
            raise SimError("this home's BLE is real (ble.backend: real)")
        key = None if args[:1] == ["plain"] else bytes(range(16))
        mac = f"DE:AD:BE:EF:00:{len(self.hub.ble.decoder.unknown) + 1:02X}"
        scanner.inject(*SimSensor(mac=mac, kind="smoke", name="neighbour", bindkey=key).advert(False))
        return f"a stranger's smoke sensor {mac} is in range"

    async def relay(self, args: list[str]) -> str:
        if len(args) != 2 or args[0] not in self.hub.hw.relays or args[1] not in ("on", "off"):
            raise SimError(f"usage: relay NAME on|off; relays: {', '.join(self.hub.hw.relays) or 'none'}")
        self.hub.hw.relays[args[0]].set(args[1] == "on")
        return f"relay {args[0]} {args[1]}"

    async def radar_cmd(self, args: list[str]) -> dict[str, Any]:
        """`anxin radar` for this home: the radar is held by the hub, so the hub talks to it."""
        port = self.hub.hw.radar
        if port is None:
            raise SimError("this home has no radar")
        if not args or args[0] not in ACTIONS:
            raise SimError(f"usage: radar-cmd {'|'.join(ACTIONS)} [VALUE]")
        action, value = args[0], float(args[1]) if len(args) > 1 else None
        try:
            report = await asyncio.to_thread(run, action, value, port.commands, port.ask)
        except (RadarError, RadarUnavailable) as e:
            raise SimError(str(e)) from None
        if action in ("height", "sensitivity"):  # what the CLI now records: kept after a replug too
            kept = port.settle.wanted if port.settle else Wanted()
            port.settle_to(dataclasses.replace(kept, **(
                {"install_height_m": value} if action == "height" else {"sensitivity": report.sensitivity})))
        return dataclasses.asdict(report)

    def handlers(self) -> dict[str, linejson.Handler]:
        h: dict[str, linejson.Handler] = {
            "press": self.press, "cord": self.cord, "hold": self.hold, "cancel": self.cancel,
            "mains-fail": lambda _: self.mains(False), "mains-ok": lambda _: self.mains(True),
            "ble-button": self.button, "battery-low": self.battery_low,
            "sensor-silent": lambda a: self.silence(a, True),
            "sensor-resume": lambda a: self.silence(a, False),
            "state": self.show_state, "prompts": self.prompts, "relay": self.relay,
            "played": self.played,
            "stranger": self.stranger, "strangers": self.strangers, "radar-cmd": self.radar_cmd,
        }
        h.update({verb: partial(self.sensor, verb) for verb in SENSOR_VERBS})
        h.update({verb: partial(self.radar, verb) for verb in RADAR_CONTROLS})
        return h

    async def start(self) -> None:
        """Open the control socket and start the sensors' regular adverts."""
        self._server = await linejson.serve(self.cfg.sim_socket_path, self.handlers())
        self.advertise_all()
        self._adverts.every("simulated adverts", ADVERT_EVERY_S, self.advertise_all)

    def close(self) -> None:
        self._adverts.cancel()
        self._server.close()
        self.cfg.sim_socket_path.unlink(missing_ok=True)

    async def __aenter__(self) -> SimHome:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()


@contextlib.asynccontextmanager
async def attached(hub: HubService) -> AsyncIterator[SimHome | None]:
    """The simulated home's controls, for a hub whose hub.yaml asks for simulated devices
    (``HubConfig.simulated``); nothing for a real home. The hub never builds its own
    simulation: ``anxin hub`` and the tests attach it."""
    if not hub.cfg.simulated:
        yield None
        return
    async with SimHome(hub) as sim:
        yield sim

