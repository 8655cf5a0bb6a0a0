"""Play and record at the same time: the microphone test's audio I/O.

Backends: :class:`SoundCard`, the hub's sound card (drivers/audio's :class:`SoundDevice`: the
devices hub.yaml names or the system's, resampled when the card runs only at 48 kHz), and
:class:`SimulatedRoom`, which carries what is played to the microphone with a delay, a loss
and the room's noise, as a simulated home's air (or, told to, carries nothing: a dead
microphone, or no audio device at all). Both take and return 16-bit mono samples.
"""

from __future__ import annotations

import random
import threading
from array import array
from typing import Protocol

import numpy as np

from drivers.audio import RATE, AudioUnavailable, NoDevice
from drivers.audio.device import Device, SoundDevice

NO_DEVICE = "no audio device"
MARGIN_S = 3.0  # past the recording's own length before the sound card counts as stuck


class AudioError(Exception):
    """The sound card failed while playing or recording; the message says how."""


class Air(Protocol):
    rate: int

    def unavailable(self) -> str | None:
        """Why nothing can be played and recorded here; None when it can."""

    def playrec(self, samples: array[int]) -> array[int]:
        """Play ``samples`` and return what the microphone heard meanwhile, as long."""


class SoundCard:
    """The hub's sound card (its USB speakerphone or HAT), full duplex."""

    def __init__(self, input: Device = None, output: Device = None) -> None:
        self.input, self.output = input, output
        self.rate = RATE  # SoundDevice resamples when the card runs only at 48 or 44.1 kHz

    def unavailable(self) -> str | None:
        try:
            SoundDevice(self.rate, input=self.input, output=self.output)
        except NoDevice:
            return NO_DEVICE
        except AudioUnavailable as e:  # PortAudio missing, or the card refuses every rate
            return str(e)
        return None

    def playrec(self, samples: array[int]) -> array[int]:
        try:
            card = SoundDevice(self.rate, input=self.input, output=self.output)
        except AudioUnavailable as e:
            raise AudioError(str(e)) from None
        out = np.frombuffer(samples, dtype=np.int16)
        heard: list[np.ndarray] = []
        pos = 0
        done = threading.Event()

        def block(mic: np.ndarray) -> np.ndarray:
            nonlocal pos
            heard.append(mic.copy())
            pos += card.block
            if pos >= len(out):
                done.set()
            return out[pos - card.block:pos]

        try:
            card.start(block)
        except AudioUnavailable as e:
            raise AudioError(str(e)) from None
        try:
            if not done.wait(len(out) / self.rate + MARGIN_S):
                raise AudioError("the sound card stopped playing and recording")
        finally:
            card.stop()
        return array("h", np.concatenate(heard)[:len(out)].tobytes())


class SimulatedRoom:
    """A simulated home's air: the speaker reaches the microphone ``delay_s`` later at
    ``gain``, under noise of ``noise`` (of full scale, RMS)."""

    def __init__(self, *, rate: int = 16000, delay_s: float = 0.08, gain: float = 0.2,
                 noise: float = 0.01, deaf: bool = False, device: bool = True, seed: int = 0) -> None:
        self.rate, self.delay_s, self.gain, self.noise = rate, delay_s, gain, noise
        self.deaf, self.device = deaf, device
        self._rng = random.Random(seed)

    def unavailable(self) -> str | None:
        return None if self.device else NO_DEVICE

    def playrec(self, samples: array[int]) -> array[int]:
        delay = round(self.delay_s * self.rate)
        gain = 0.0 if self.deaf else self.gain
        sigma = self.noise * 2**15
        return array("h", (max(-32768, min(32767, round(
            gain * (samples[i - delay] if i >= delay else 0) + self._rng.gauss(0, sigma))))
            for i in range(len(samples))))
