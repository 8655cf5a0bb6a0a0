"""The home's devices, built from hub.yaml with their real or simulated backends.

Driver callbacks arrive on driver threads (gpiozero, the radar's reader) and are handed to
the hub's asyncio loop here, so the service sees every reading on its own loop, in order.
An input the service fails to handle is logged (:class:`hub.common.tasks.Failures`) and goes no
further: never into a driver's thread or loop (the BLE scan's), which must go on. A driver's
thread that dies (the radar's reader, the speaker's player: drivers/threads.py) is told to
``Inputs.died`` on the loop: the service names it among its dead tasks.
The simulated backends are real components (a pty radar, injected BLE adverts, mock pins, a
loopback room for the speakerphone), chosen per device by ``backend: sim``. The audio stack
(numpy, PortAudio) is imported only for a hub with a speakerphone: one whose prompts are only
logged does not carry it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bleak import BleakScanner
from gpiozero.pins import Factory

from drivers.ble.scanner import BleScanner, ScanStatus
from drivers.ble.sim import SimScanner
from drivers.gpio.button import PushButton
from drivers.gpio.led import StatusLed
from drivers.gpio.pins import pin_factory
from drivers.gpio.power import PowerGood
from drivers.gpio.relay import Relay
from drivers.gpio.siren import Siren
from drivers.radar.port import PortStatus, RadarPort
from drivers.radar.sim import SimRadar
from drivers.speaker import Speaker
from drivers.speaker.sim import LogSpeaker
from hub.common.tasks import Failures
from hub.runtime.config import HubConfig, SpeakerConfig

if TYPE_CHECKING:
    from drivers.audio.device import SoundDevice
    from drivers.audio.loopback import LoopbackAudio
    from drivers.audio.speakerphone import Speakerphone

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Inputs:
    """Where device input goes; each is called on the hub's event loop."""

    press: Callable[[str, float], None]
    hold: Callable[[str, float], None]
    release: Callable[[str, float], None]
    mains: Callable[[bool, float], None]
    radar: Callable[[Any, float], None]
    radar_status: Callable[[PortStatus], None]
    advert: Callable[[Any], None]
    ble_status: Callable[[ScanStatus], None]
    died: Callable[[str, str], None]  # a driver's thread (its name) has ended (why)


@dataclass
class Hardware:
    cfg: HubConfig
    pins: Factory
    buttons: list[PushButton] = field(default_factory=list)
    led: StatusLed | None = None
    siren: Siren | None = None
    relays: dict[str, Relay] = field(default_factory=dict)
    mains: PowerGood | None = None
    radar: RadarPort | None = None
    sim_radar: SimRadar | None = None
    ble: BleScanner | None = None
    sim_ble: SimScanner | None = None
    phone: Speakerphone | None = None  # prompts and voice calls; None: prompts are only logged
    speaker: Speaker = field(default_factory=LogSpeaker)

    @classmethod
    def build(cls, cfg: HubConfig, pins: Factory | None = None) -> Hardware:
        hw = cls(cfg, pins or pin_factory(cfg.gpio.backend))
        if cfg.speaker.backend != "log":
            hw._speakerphone()
        if hw.cfg.status_led:
            hw.led = StatusLed(pin=cfg.status_led.pin, pin_factory=hw.pins) if cfg.status_led else None
        if cfg.siren:
            hw.siren = Siren(pin=cfg.siren.pin, pin_factory=hw.pins, active_high=cfg.siren.active_high)
        hw.relays = {r.name: Relay(name=r.name, pin=r.pin, pin_factory=hw.pins, active_high=r.active_high)
                     for r in cfg.relays}
        return hw

    def _speakerphone(self) -> None:
        from drivers.audio import AudioUnavailable
        from drivers.audio.speakerphone import Speakerphone
        from drivers.speaker.audio import AudioSpeaker

        try:
            self.phone = Speakerphone(_audio_device(self.cfg.speaker))
        except (AudioUnavailable, ValueError) as e:  # ValueError: sim_voice is no WAV
            # the alarms matter more than the voice: the hub starts without it
            log.error("speaker: %s; prompts are only logged and voice calls refused", e)
            return
        self.speaker = AudioSpeaker(self.phone, self.cfg.speaker.prompts, self.cfg.language)

    async def start(self, to: Inputs) -> None:
        """Attach inputs; from here on callbacks flow to ``to`` on the running loop."""
        loop = asyncio.get_running_loop()

        def handover(fn: Callable[..., None], what: str) -> Callable[..., None]:
            handle = guarded(fn, what)

            def on_loop(*args: Any) -> None:
                loop.call_soon_threadsafe(handle, *args)
            return on_loop

        cfg = self.cfg
        died = handover(to.died, "a driver thread's end")
        if self.phone is not None:  # only then is the audio stack loaded
            from drivers.speaker.audio import AudioSpeaker

            if isinstance(self.speaker, AudioSpeaker):
                self.speaker.thread.on_died = died
        self.buttons = [PushButton(name=b.name, pin=b.pin, pin_factory=self.pins, hold_s=b.hold_s,
                                   on_press=handover(to.press, "a press"),
                                   on_hold=handover(to.hold, "a hold") if b.role == "call" else None,
                                   on_release=handover(to.release, "a release") if b.role == "call"
                                   else None)
                        for b in cfg.buttons]
        if cfg.mains:
            if cfg.gpio.backend == "sim":  # the simulated home starts on mains
                pin = self.pins.pin(cfg.mains.pin)
                pin.drive_high() if cfg.mains.active_high else pin.drive_low()
            self.mains = PowerGood(pin=cfg.mains.pin, pin_factory=self.pins,
                                   active_high=cfg.mains.active_high,
                                   on_change=handover(to.mains, "the mains"))
            to.mains(self.mains.ok, time.time())  # a hub that starts on battery must say so
        if cfg.radar:
            port = cfg.radar.port
            reading = handover(to.radar, "a radar reading")
            if cfg.radar.backend == "sim":
                self.sim_radar = SimRadar(model=cfg.radar.model, link=cfg.data_dir / "radar.tty")
                port = str(cfg.data_dir / "radar.tty")
            self.radar = RadarPort(port=port, model=cfg.radar.model, silence_s=cfg.radar.silence_s,
                                   keepalive_s=cfg.radar.keepalive_s, settings=cfg.radar.settings,
                                   on_reading=lambda r: reading(r, time.time()),
                                   on_status=handover(to.radar_status, "the radar's status"),
                                   on_died=died)
            self.radar.start()
        if cfg.ble.sensors or cfg.ble.backend == "sim":
            if cfg.ble.backend == "sim":
                self.sim_ble = SimScanner()  # this home's own air
            self.ble = BleScanner(on_advert=guarded(to.advert, "a BLE advert"),
                                  on_status=guarded(to.ble_status, "the Bluetooth status"),
                                  make_scanner=self.sim_ble.factory if self.sim_ble else BleakScanner,
                                  restart_after_s=cfg.ble.restart_after_s, scanning_mode=cfg.ble.scan_mode,
                                  adapter=cfg.ble.adapter)
            await self.ble.start()

    @property
    def mains_ok(self) -> bool:
        return self.mains.ok if self.mains else True

    async def close(self) -> None:
        if self.ble:
            await self.ble.stop()
        if self.phone:
            self.phone.close()
        for dev in (self.radar, self.sim_radar, self.mains, self.led, self.siren,
                    *self.buttons, *self.relays.values()):
            if dev is not None:
                dev.close()


def guarded(fn: Callable[..., None], what: str) -> Callable[..., None]:
    """``fn`` as a driver's callback: a failure is logged here, rate-limited."""
    failures = Failures(f"handling {what}", log)

    def handle(*args: Any) -> None:
        with failures.round():
            fn(*args)
    return handle


def _audio_device(cfg: SpeakerConfig) -> SoundDevice | LoopbackAudio:
    from drivers.audio.device import SoundDevice
    from drivers.audio.loopback import LoopbackAudio

    if cfg.backend == "audio":
        return SoundDevice(input=cfg.input, output=cfg.output)
    if cfg.sim_voice and not cfg.sim_voice.is_file():
        log.warning("speaker.sim_voice %s does not exist: the simulated room is silent",
                    cfg.sim_voice)
        return LoopbackAudio()
    return LoopbackAudio(source=cfg.sim_voice)
