"""Opus for speech (RFC 6716) over the system libopus, through opuslib_next.

Settings and why (docs/voice.md): 16 kHz mono, 20 ms frames, APPLICATION_VOIP (SILK, tuned
for speech intelligibility), 20 kbit/s (wideband speech needs 16-20; the target allows 24),
in-band FEC with 10 % expected loss (below 6 % libopus 1.3 sends no FEC at all at this rate),
so one lost frame can be rebuilt from the next packet;
complexity 5, about 0.1 ms a frame here and ~1 ms on a Pi Zero 2 W core (10 costs twice as
much for no audible gain in SILK at this rate). No DTX: a steady 50 packets/s keeps the
receiver's jitter estimate and loss count meaningful.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.voice import FRAME, RATE
from hub.voice.packet import VoiceError

Pcm = npt.NDArray[np.int16]

BITRATE = 20_000
MAX_BITRATE = 24_000
COMPLEXITY = 5
EXPECTED_LOSS = 10  # percent; libopus 1.3 adds FEC at 20 kbit/s only from 6 % (docs/voice.md)


class OpusUnavailable(RuntimeError):
    """libopus or its binding is missing; the message says how to install it."""


def _opus() -> ModuleType:
    try:
        return importlib.import_module("opuslib_next")
    except ModuleNotFoundError:
        raise OpusUnavailable("the Python package opuslib-next is missing "
                              "(.venv/bin/pip install opuslib-next; .ci/setup does)") from None
    except Exception as e:  # opuslib_next raises a bare Exception when libopus is not found
        raise OpusUnavailable(f"libopus is not installed ({e}); apt install libopus0 "
                              "(.ci/setup does)") from None


def _frame(pcm: npt.NDArray[Any]) -> bytes:
    if pcm.shape != (FRAME,):
        raise VoiceError(f"a frame is {FRAME} mono samples, got shape {pcm.shape}")
    return np.ascontiguousarray(pcm, dtype=np.int16).tobytes()


class OpusEncoder:
    """One direction's encoder; keeps state between frames, so one per call and direction."""

    def __init__(self, *, bitrate: int = BITRATE, complexity: int = COMPLEXITY,
                 expected_loss: int = EXPECTED_LOSS) -> None:
        if not 6_000 <= bitrate <= MAX_BITRATE:
            raise ValueError(f"bitrate {bitrate} out of range 6000..{MAX_BITRATE}")
        opus = _opus()
        self._enc = opus.Encoder(RATE, 1, opus.APPLICATION_VOIP)
        self._enc.bitrate = bitrate
        self._enc.complexity = complexity
        self._enc.signal = opus.SIGNAL_VOICE
        self._enc.max_bandwidth = opus.BANDWIDTH_WIDEBAND
        self._enc.inband_fec = 1
        self._enc.packet_loss_perc = expected_loss

    def encode(self, pcm: npt.NDArray[Any]) -> bytes:
        """One 20 ms int16 frame -> one Opus packet."""
        return bytes(self._enc.encode(_frame(pcm), FRAME))


class OpusDecoder:
    """One direction's decoder, with packet-loss concealment and FEC recovery."""

    def __init__(self) -> None:
        opus = _opus()
        self._error: type[Exception] = opus.OpusError
        self._dec = opus.Decoder(RATE, 1)

    def _run(self, payload: bytes, fec: bool) -> Pcm:
        try:
            raw = self._dec.decode(payload, FRAME, fec)
        except self._error as e:
            raise VoiceError(f"undecodable Opus packet: {e}") from None
        pcm = np.frombuffer(raw, dtype=np.int16)
        if pcm.shape != (FRAME,):  # a valid packet of another duration (not ours)
            raise VoiceError(f"Opus packet of {pcm.size} samples, expected {FRAME}")
        return pcm

    def decode(self, payload: bytes) -> Pcm:
        """The frame in ``payload``; VoiceError if it is not a 20 ms Opus packet."""
        return self._run(payload, False)

    def conceal(self) -> Pcm:
        """A stand-in for a missing frame, extrapolated from the previous ones (libopus PLC)."""
        return self._run(b"", False)

    def recover(self, following: bytes) -> Pcm:
        """The missing frame rebuilt from the FEC copy inside the packet that follows it.
        Falls back to PLC inside libopus when that packet carries no FEC data."""
        return self._run(following, True)
