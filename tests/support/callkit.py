"""What the voice-call tests share: prompts as short tones (each key its own pitch, so what a
loudspeaker played can be read back in order), a home with a simulated speakerphone, and
measures of what was heard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from console.station.service import StationService
from drivers.audio import RATE
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.wavfile import write_wav
from hub.runtime.call import ANNOUNCE_TONE
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.voice.prompts import PROMPTS
from tests.conftest import eventually

PITCH = {ANNOUNCE_TONE: 1200.0, "visit_call": 500.0, "officer_on_line": 900.0,
         "call_ended": 300.0}  # Hz; every other prompt 250 Hz
CLIP_S = 0.3
BLOCK = 320


def tone(hz: float, seconds: float, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 32767 * 10 ** (dbfs / 20)).astype(np.int16)


def write_prompts(folder: Path) -> Path:
    """Every prompt key and the announcement chime as a CLIP_S tone of its own pitch."""
    for lang in ("zh_CN", "en"):
        (folder / lang).mkdir(parents=True, exist_ok=True)
        for key in PROMPTS:
            write_wav(folder / lang / f"{key}.wav", tone(PITCH.get(key, 250.0), CLIP_S), RATE)
    (folder / "tones").mkdir(parents=True, exist_ok=True)
    write_wav(folder / "tones" / f"{ANNOUNCE_TONE}.wav", tone(PITCH[ANNOUNCE_TONE], CLIP_S), RATE)
    return folder


def home_with_voice(hub_cfg: Callable[..., HubConfig], tmp: Path, voice: np.ndarray | None,
                    **voice_cfg: Any) -> HubConfig:
    """h001 with a simulated speakerphone whose microphone plays ``voice`` (looped)."""
    speaker: dict[str, Any] = {"backend": "sim", "prompts": str(write_prompts(tmp / "prompts"))}
    if voice is not None:
        write_wav(tmp / "elder.wav", voice, RATE)
        speaker["sim_voice"] = str(tmp / "elder.wav")
    return hub_cfg(speaker=speaker, voice={"silence_s": 3, **voice_cfg})


def room(hub: HubService) -> LoopbackAudio:
    assert hub.hw.phone is not None and isinstance(hub.hw.phone.device, LoopbackAudio)
    return hub.hw.phone.device


def pitch_track(x: np.ndarray) -> list[float | None]:
    """The strongest frequency of each 20 ms block (None for silence)."""
    out: list[float | None] = []
    freqs = np.fft.rfftfreq(BLOCK, 1 / RATE)
    for i in range(0, len(x) - BLOCK + 1, BLOCK):
        b = x[i:i + BLOCK].astype(np.float64)
        if np.sqrt(np.mean(b**2)) < 100:
            out.append(None)
            continue
        out.append(float(freqs[int(np.argmax(np.abs(np.fft.rfft(b * np.hanning(BLOCK)))))]))
    return out


def heard_in_order(x: np.ndarray) -> list[str]:
    """The clips heard in ``x``, in order, by pitch (runs of at least 5 blocks)."""
    names = {hz: name for name, hz in PITCH.items()}
    runs: list[tuple[str, int]] = []
    for f in pitch_track(x):
        name = next((n for hz, n in names.items() if f is not None and abs(f - hz) < 60), "-")
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + 1)
        else:
            runs.append((name, 1))
    return [name for name, n in runs if name != "-" and n >= 5]


def band_share(x: np.ndarray, hz: float, width: float = 60.0) -> float:
    """The share of ``x``'s energy within ``width`` of ``hz``."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spec[np.abs(freqs - hz) < width].sum() / max(spec.sum(), 1e-9))


def best_correlation(ref: np.ndarray, heard: np.ndarray) -> float:
    """The highest normalised correlation of ``heard`` with ``ref`` (looped) at any lag."""
    r = np.tile(ref.astype(np.float64), 2)
    h = heard.astype(np.float64) - heard.mean()
    n = 1 << int(np.ceil(np.log2(len(r) + len(h))))
    c = np.fft.irfft(np.fft.rfft(r, n) * np.conj(np.fft.rfft(h, n)), n)[:len(ref)]
    best = int(np.argmax(c))
    seg = r[best:best + len(h)]
    return float(np.corrcoef(seg, h)[0, 1])


def correlation(ref: np.ndarray, heard: np.ndarray, window_s: float = 0.25) -> float:
    """The median of :func:`best_correlation` over the windows of ``heard`` with sound: each
    window finds its own lag, since the jitter buffer may move it mid-stream (and a window
    where speech starts again, the AGC and the voice switch still moving, scores low)."""
    w = int(window_s * RATE)
    found = [best_correlation(ref, heard[i:i + w]) for i in range(0, len(heard) - w + 1, w)
             if np.sqrt(np.mean(heard[i:i + w].astype(np.float64) ** 2)) > 300]
    return float(np.median(found)) if found else 0.0


async def online(station: StationService, hub: str) -> None:
    await eventually(lambda: (h := station.store.home(hub)) is not None and h.online,
                     what=f"{hub} online at the station")
