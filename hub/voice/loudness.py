"""Automatic gain control for the microphone path, with a noise gate and a limiter.

Elders speak softly from across the room or shout into the box; an officer's headset mic sits
at the mouth. The AGC steers the speech level (a peak envelope of 20 ms frame levels, so the
gain follows phrases, not syllables) to -18 dBFS within -12..+24 dB of gain: down fast (a
shout is corrected within ~40 ms), up slowly (0.3 dB a speech frame, no pumping between words). Frames the
noise floor tracker does not take for speech neither move the gain nor get amplified: the gate
lowers them 15 dB below their input level, so room noise and hum fade in pauses. A limiter
keeps every sample below -1 dBFS. Gains change along a ramp across each frame (no clicks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Pcm = npt.NDArray[np.int16]
FULL_SCALE = 32768.0
SILENT_DB = -100.0


def level_db(frame: npt.NDArray[Any]) -> float:
    """RMS level of a frame in dBFS (full-scale int16 sine: -3 dBFS); -100 for digital silence."""
    x = frame.astype(np.float64)
    ms = float(np.dot(x, x)) / max(len(x), 1)
    return 10.0 * float(np.log10(ms / FULL_SCALE**2)) if ms > 0 else SILENT_DB


def ramp(frame: npt.NDArray[Any], g0: float, g1: float) -> npt.NDArray[np.float64]:
    """``frame`` times a gain gliding linearly from g0 to g1 (linear factors) across it."""
    return frame.astype(np.float64) * np.linspace(g0, g1, len(frame), endpoint=False)


def to_pcm(x: npt.NDArray[np.float64]) -> Pcm:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


class NoiseFloor:
    """Background level by minimum tracking: follows a quieter frame at once, creeps up at
    ``rise_db`` per frame (3 dB/s), so speech (bursts well above it) does not lift it but a
    louder room does within seconds."""

    def __init__(self, start_db: float = -70.0, rise_db: float = 0.06) -> None:
        self.db = start_db
        self._rise = rise_db

    def update(self, level: float) -> float:
        self.db = level if level < self.db else self.db + self._rise
        return self.db


class Agc:
    """Per-frame AGC + gate + limiter; pure, one instance per microphone."""

    def __init__(self, *, target_db: float = -18.0, min_gain_db: float = -12.0,
                 max_gain_db: float = 24.0, gate_db: float = -15.0, speech_over_floor_db: float = 9.0,
                 min_speech_db: float = -55.0, limit_db: float = -1.0) -> None:
        self.target_db, self.min_gain_db, self.max_gain_db = target_db, min_gain_db, max_gain_db
        self.gate_db, self.speech_over_floor_db = gate_db, speech_over_floor_db
        self.min_speech_db = min_speech_db
        self._limit = FULL_SCALE * 10 ** (limit_db / 20)
        self.floor = NoiseFloor()
        self.gain_db = 0.0  # the AGC's gain, without gate and limiter
        self.envelope_db: float | None = None  # speech level: peak-hold of speech frames, decaying
        self.speech = False
        self._hang = 0  # frames the gate stays open after speech (word endings)
        self._applied = 1.0  # linear gain at the end of the last frame (ramp start)

    def process(self, frame: npt.NDArray[Any], *, adapt: bool = True) -> Pcm:
        """One frame through AGC, gate and limiter. ``adapt=False`` holds the gain (the mic
        carries the loudspeaker's echo while the far end talks)."""
        level = level_db(frame)
        floor = self.floor.update(level)
        self.speech = level > max(self.min_speech_db, floor + self.speech_over_floor_db)
        if self.speech:
            self._hang = 10
            if adapt:
                env = level if self.envelope_db is None else max(level, self.envelope_db - 0.1)
                self.envelope_db = env  # the first word sets it; then it decays 5 dB/s
                want = min(self.max_gain_db, max(self.min_gain_db, self.target_db - env))
                step = want - self.gain_db
                self.gain_db += 0.5 * step if step < 0 else min(step, 0.3)
        else:
            self._hang = max(0, self._hang - 1)
        gain_db = self.gain_db if self._hang else min(self.gain_db, 0.0) + self.gate_db
        if not adapt:
            gain_db = min(gain_db, 0.0)  # never amplify echo
        g = 10 ** (gain_db / 20)
        peak = float(np.max(np.abs(frame.astype(np.float64)))) if len(frame) else 0.0
        if peak * g > self._limit:
            g = self._limit / peak
        out = ramp(frame, self._applied if adapt else min(self._applied, g), g)
        peak_out = float(np.max(np.abs(out))) if len(out) else 0.0
        if peak_out > self._limit:  # the ramp started above the new gain
            out *= self._limit / peak_out
        self._applied = g
        return to_pcm(out)
