"""The microphone test's signal: a tone to play, and whether a recording made meanwhile heard it.

Pure: 16-bit mono samples in, a verdict out. The recording is cut into 50 ms frames and a
Goertzel filter measures the tone's frequency in each. The tone counts as heard when enough
frames carry it well above the room's own level at that frequency (the quietest frames: the
recording starts before the tone and ends after it, so some frames are the room alone) and
it is most of what those frames hold (a tone, not a door slam). The speaker's and sound
card's latency only moves the tone frames, which the test does not rely on.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

TONE_HZ = 1000.0  # small speakers and MEMS microphones both handle 1 kHz well
TONE_S = 1.0
LEAD_S = 0.5  # silence played before the tone: the room alone
TAIL_S = 0.5  # and after it: room for the card's latency
LEVEL = 0.5  # of full scale: loud enough to hear, clear of clipping
FADE_S = 0.01  # no click at the start and end
FRAME_S = 0.05
MIN_SNR_DB = 10.0  # the tone above the room at its frequency
MIN_TONALITY = 0.1  # the tone's share of a frame's energy
MIN_FRAMES = 0.5  # share of the tone's frames in which it must be heard
FLOOR = (2**15 * 10 ** (-90 / 20)) ** 2  # -90 dBFS: digital silence counts as this quiet
FULL_SCALE = 2**15


@dataclass(frozen=True, slots=True)
class Heard:
    heard: bool
    snr_db: float  # the tone's frames against the room, at the tone's frequency
    level_dbfs: float  # the tone's level in the recording
    frames: int  # frames that carried the tone


def tone(rate: int, hz: float = TONE_HZ) -> array[int]:
    """What to play: LEAD_S of silence, TONE_S of a faded sine at ``hz``, TAIL_S of silence."""
    n, fade = round(rate * TONE_S), round(rate * FADE_S)
    amp = LEVEL * (FULL_SCALE - 1)
    body = [round(amp * min(1.0, i / fade, (n - 1 - i) / fade) * math.sin(2 * math.pi * hz * i / rate))
            for i in range(n)]
    return array("h", [0] * round(rate * LEAD_S) + body + [0] * round(rate * TAIL_S))


def goertzel(frame: Sequence[int], rate: int, hz: float) -> float:
    """|X(hz)|² of the frame: the power at one frequency, without a whole FFT."""
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def detect(rec: Sequence[int], rate: int, hz: float = TONE_HZ) -> Heard:
    """Whether ``rec`` (recorded while :func:`tone` played) carries the tone."""
    size = round(rate * FRAME_S)
    frames = [rec[i:i + size] for i in range(0, len(rec) - size + 1, size)]
    if len(frames) < 4:
        return Heard(False, 0.0, -math.inf, 0)
    at_hz = [goertzel(f, rate, hz) for f in frames]
    # a sine of amplitude A fills a frame with energy size*A²/2 and gives |X|² = (A*size/2)²,
    # so 2|X|²/(size*energy) is the share of the frame's energy at hz (1 for a pure tone)
    energy = [sum(x * x for x in f) for f in frames]
    share = [2 * p / (size * e) if e else 0.0 for p, e in zip(at_hz, energy, strict=True)]
    quiet = sorted(at_hz)[: max(1, len(at_hz) * 2 // 5)]  # the tone fills half the recording
    room = max(sum(quiet) / len(quiet), FLOOR * (size / 2) ** 2)
    need = room * 10 ** (MIN_SNR_DB / 10)
    hits = [p for p, s in zip(at_hz, share, strict=True) if p >= need and s >= MIN_TONALITY]
    loudest = sorted(at_hz, reverse=True)[: max(1, round(TONE_S / FRAME_S))]
    typical = loudest[len(loudest) // 2]
    amplitude = 2 * math.sqrt(typical) / size
    return Heard(heard=len(hits) >= MIN_FRAMES * TONE_S / FRAME_S,
                 snr_db=10 * math.log10(max(typical, 1e-30) / room),
                 level_dbfs=20 * math.log10(amplitude / FULL_SCALE) if amplitude else -math.inf,
                 frames=len(hits))
