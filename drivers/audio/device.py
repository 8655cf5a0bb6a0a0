"""The sound card as a :class:`drivers.audio.Duplex`, through sounddevice (PortAudio).

One full-duplex ``sd.Stream`` of int16. When the card cannot run at the voice path's rate
(USB speakerphones often do 48 kHz only; hardware.md "Audio"), it runs at 48 or 44.1 kHz and
:class:`drivers.audio.resample.Resampler` converts each block both ways (soxr; each way adds
~37 ms at 48 kHz, 40-58 ms at 44.1 kHz, to give exactly one block per block);
a card that takes stereo only gets the mono signal on both channels and its left input.
Every way this can fail before a stream runs is an :class:`drivers.audio.AudioUnavailable`
whose message says what to install, plug in or set.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from drivers.audio import BLOCK, RATE, AudioUnavailable, NoDevice, NoPortAudio, UnsupportedSettings
from drivers.audio.pcm import fit
from drivers.audio.resample import Resampler

log = logging.getLogger("anxin.audio")

CARD_RATES = (48_000, 44_100)  # tried, in this order, when the card refuses the voice rate
LATENCY_S = 0.03  # ~30 ms buffers are the practical floor on a Pi (hardware.md "Audio")
INSTALL = "sudo apt install libportaudio2"
LISTED = {"input": "`arecord -l`", "output": "`aplay -l`"}
Device = int | str | None  # index, part of the name, or the system default


def portaudio() -> ModuleType:
    """The sounddevice module; NoPortAudio, with the fix, when its library does not load."""
    try:
        import sounddevice  # type: ignore[import-untyped]
    except OSError as e:  # sounddevice loads libportaudio2 on import
        raise NoPortAudio(f"PortAudio does not load ({e}): {INSTALL}") from None
    return sounddevice


@dataclass(frozen=True, slots=True)
class _End:
    """One direction of the stream: which device and how many channels."""

    index: int
    name: str
    channels: int


class SoundDevice:
    """The sound card (default devices unless ``input``/``output`` name one), full duplex."""

    def __init__(self, rate: int = RATE, block: int = BLOCK, input: Device = None,
                 output: Device = None, *, latency_s: float = LATENCY_S) -> None:
        self.rate, self.block, self.latency_s = rate, block, latency_s
        sd = portaudio()
        self._in, self._out = _find(sd, input, "input"), _find(sd, output, "output")
        self.card_rate = self._card_rate(sd)
        self.xruns = 0  # blocks PortAudio reported late (input overflow, output underflow)
        self.errors = 0  # callbacks that raised; the block was played as silence
        self._stream: Any = None
        self._lock = threading.Lock()

    def __str__(self) -> str:
        conv = f", resampled to {self.rate} Hz" if self.card_rate != self.rate else ""
        return (f"input #{self._in.index} {self._in.name} ({self._in.channels} ch), output "
                f"#{self._out.index} {self._out.name} ({self._out.channels} ch), "
                f"card at {self.card_rate} Hz{conv}")

    def start(self, callback: Callable[[np.ndarray], np.ndarray]) -> None:
        sd = portaudio()
        card_block = self.block * self.card_rate // self.rate
        resampling = self.card_rate != self.rate
        down = Resampler(self.card_rate, self.rate, card_block) if resampling else None
        up = Resampler(self.rate, self.card_rate, self.block) if resampling else None

        def on_block(indata: np.ndarray, outdata: np.ndarray, frames: int, _time: Any,
                     status: Any) -> None:
            if status:
                self.xruns += 1
            mic = indata[:, 0].copy() if down is None else down.process(indata[:, 0])  # ours to keep
            try:
                out = fit(callback(fit(mic, self.block)), self.block)
            except Exception:
                self.errors += 1
                if self.errors == 1:  # then counted only: this runs 50 times a second
                    log.exception("audio callback failed; playing silence")
                out = np.zeros(self.block, np.int16)
            outdata[:] = fit(out if up is None else up.process(out), frames)[:, None]

        with self._lock:
            if self._stream is not None:
                raise RuntimeError("the sound card's stream is already running")
            stream = None
            try:
                stream = sd.Stream(samplerate=self.card_rate, blocksize=card_block,
                                   device=(self._in.index, self._out.index),
                                   channels=(self._in.channels, self._out.channels), dtype="int16",
                                   latency=self.latency_s, callback=on_block)
                stream.start()
            except sd.PortAudioError as e:
                if stream is not None:
                    stream.close()
                raise AudioUnavailable(f"the sound card would not open ({e}): is another program "
                                       "using it? `fuser -v /dev/snd/*` shows which") from None
            self._stream = stream

    def stop(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()

    def _card_rate(self, sd: ModuleType) -> int:
        """The voice rate if the card takes it, else the first of CARD_RATES it takes."""
        refused = ""
        for rate in dict.fromkeys((self.rate, *CARD_RATES)):
            if (self.block * rate) % self.rate:
                continue  # a block would not be a whole number of the card's samples
            try:
                sd.check_input_settings(device=self._in.index, channels=self._in.channels,
                                        dtype="int16", samplerate=rate)
                sd.check_output_settings(device=self._out.index, channels=self._out.channels,
                                         dtype="int16", samplerate=rate)
            except (sd.PortAudioError, ValueError) as e:
                refused = str(e)
                continue
            return rate
        raise UnsupportedSettings(
            f"the sound card (input {self._in.name}, output {self._out.name}) cannot run 16-bit at "
            f"{' or '.join(str(r) for r in dict.fromkeys((self.rate, *CARD_RATES)))} Hz "
            f"(PortAudio: {refused}): choose another device; `anxin audio devices` lists them")


def _find(sd: ModuleType, which: Device, kind: str) -> _End:
    """The device for one direction, with 1 channel if it takes mono, else 2."""
    try:
        info = sd.query_devices(which, kind=kind)
    except sd.PortAudioError:  # no default device of this kind
        raise NoDevice(f"no {kind} device: plug in the USB speakerphone; {LISTED[kind]} must "
                       "list it") from None
    except ValueError as e:  # no such index or name, several match, or it has no such side
        raise NoDevice(f"no {kind} device {which!r} ({e}); `anxin audio devices` lists them") from None
    index = int(info["index"])
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    channels = 1
    try:
        check(device=index, channels=1, dtype="int16")
    except (sd.PortAudioError, ValueError):
        channels = 2  # some cards open stereo only
    return _End(index, str(info["name"]), channels)


def list_devices() -> str:
    """The devices PortAudio sees, one a line: index, name, channels in/out, default rate."""
    sd = portaudio()
    devices = sd.query_devices()
    if not len(devices):
        return ("no audio devices: plug in the USB speakerphone; `aplay -l` and `arecord -l` must "
                "list it")
    default_in, default_out = sd.default.device
    lines = [f"   {'#':>2} {'in':>3} {'out':>3} {'rate':>6}  name   (> default input, < default output)"]
    for d in devices:
        mark = (">" if d["index"] == default_in else " ") + ("<" if d["index"] == default_out else " ")
        lines.append(f"{mark} {d['index']:>2} {d['max_input_channels']:>3} {d['max_output_channels']:>3} "
                     f"{round(d['default_samplerate']):>6}  {d['name']}")
    return "\n".join(lines)
