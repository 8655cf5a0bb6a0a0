"""Audio devices: one full-duplex stream of mono 16-bit blocks, and the speakerphone that owns it.

Backends: :class:`drivers.audio.device.SoundDevice` (the sound card, through sounddevice and
PortAudio) and :class:`drivers.audio.loopback.LoopbackAudio` (a simulated room, and WAV files in
and out, for tests and the demo). :class:`drivers.audio.speakerphone.Speakerphone` is the one
owner of a device: it mixes prompts over call audio and opens the microphone path only for a
call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

RATE = 16_000  # wideband speech: what the prompts and the voice path use
BLOCK = 320  # 20 ms at RATE: one Opus frame


class AudioUnavailable(Exception):
    """No audio here; the message says what is missing and how to fix it."""


class NoPortAudio(AudioUnavailable):
    """The PortAudio library (libportaudio2) does not load."""


class NoDevice(AudioUnavailable):
    """No input or no output device, or not the one asked for."""


class UnsupportedSettings(AudioUnavailable):
    """The device cannot run mono or stereo 16-bit at a rate we can resample from."""


class Duplex(Protocol):
    """One full-duplex stream of mono int16 blocks of ``block`` samples at ``rate``."""

    rate: int
    block: int

    def start(self, callback: Callable[[np.ndarray], np.ndarray]) -> None:
        """callback(mic_block) -> speaker_block, called every block from the audio thread."""

    def stop(self) -> None:
        """Close the stream; the callback is not called after this returns."""
