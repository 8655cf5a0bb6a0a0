"""Play and record at the same time: the microphone test's audio I/O.

Backends: :class:`SoundCard`, the hub's sound card through sounddevice (PortAudio; a raw
stream, so numpy is not needed), and :class:`SimulatedRoom`, which carries what is played to
the microphone with a delay, a loss and the room's noise, as a simulated home's air (or,
told to, carries nothing: a dead microphone, or no audio device at all). Both take and
return 16-bit mono samples.
"""

from __future__ import annotations

import random
import threading
from array import array
from typing import Any, Protocol

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
    """The default input and output device (the hub's USB card or HAT), full duplex."""

    def __init__(self, rate: int = 48000) -> None:
        self.rate = rate  # USB cards often do 48 kHz only (hardware.md, "Audio")

    def unavailable(self) -> str | None:
        try:
            import sounddevice as sd  # type: ignore[import-untyped]
        except OSError as e:  # libportaudio2 missing
            return f"{NO_DEVICE} (PortAudio: {e})"
        try:
            sd.query_devices(kind="input")
            sd.query_devices(kind="output")
        except sd.PortAudioError:  # no default device: none at all, or PortAudio sees none
            return NO_DEVICE
        try:
            sd.check_input_settings(samplerate=self.rate, channels=1, dtype="int16")
            sd.check_output_settings(samplerate=self.rate, channels=1, dtype="int16")
        except (sd.PortAudioError, ValueError) as e:
            return f"the sound card cannot play and record {self.rate} Hz mono 16-bit ({e})"
        return None

    def playrec(self, samples: array[int]) -> array[int]:
        import sounddevice as sd

        out = samples.tobytes()
        heard = bytearray()
        pos = 0
        done = threading.Event()

        def callback(indata: Any, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
            nonlocal pos
            chunk = out[pos:pos + len(outdata)]
            outdata[:] = chunk + bytes(len(outdata) - len(chunk))
            pos += len(outdata)
            heard.extend(bytes(indata))
            if pos >= len(out):
                raise sd.CallbackStop

        try:
            with sd.RawStream(samplerate=self.rate, channels=1, dtype="int16", callback=callback,
                              finished_callback=done.set):
                if not done.wait(len(samples) / self.rate + MARGIN_S):
                    raise AudioError("the sound card stopped playing and recording")
        except sd.PortAudioError as e:
            raise AudioError(str(e)) from None
        rec = array("h")
        rec.frombytes(bytes(heard[:len(out)]))
        return rec


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
