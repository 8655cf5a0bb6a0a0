"""Mono 16-bit WAV files in and out: the loopback backend's file side and the rendered prompts.

The standard library's ``wave`` suffices for PCM WAV and writes the same bytes every time,
which the reproducible prompt files rely on. Stereo is mixed down; other sample widths and
compressed WAVs are refused with the file's name.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from drivers.audio.pcm import clip16
from drivers.audio.resample import resample


def read_wav(path: Path, rate: int | None = None) -> tuple[np.ndarray, int]:
    """The file's samples as mono int16, and their rate (converted to ``rate`` if given)."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, file_rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a PCM WAV file ({e})") from None
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples; 16-bit expected")
    x = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)
    mono = x[:, 0].copy() if channels == 1 else clip16(x.mean(axis=1))
    if rate is None or rate == file_rate:
        return mono, file_rate
    return resample(mono, file_rate, rate), rate


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())

