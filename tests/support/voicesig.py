"""Test signals, a simulated network and alignment metrics for the voice tests and bench."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf

from hub.voice import FRAME, FRAME_MS, RATE
from hub.voice.pipeline import Receiver, Sender

REPO = Path(__file__).resolve().parents[2]
Pcm = npt.NDArray[np.int16]


def speech_like(seconds: float = 4.0, seed: int = 7) -> Pcm:
    """Voiced syllables (harmonics of a gliding 100-250 Hz pitch falling 6 dB/octave, shaped
    by three moving formants), faint fricative noise, 4 syllables/s and pauses, at -20 dBFS
    RMS: speech's spectrum and rhythm, without the espeak-ng voice."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 160 + 60 * np.sin(2 * np.pi * 0.7 * t) + 20 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    formants = np.array([500.0, 1500.0, 2500.0]) * (1 + 0.2 * np.sin(2 * np.pi * 1.1 * t))[:, None]
    voiced = np.zeros(n)
    for k in range(1, 40):
        fk = k * f0
        weight = np.sum(1.0 / (1 + ((fk[:, None] - formants) / 120.0) ** 2), axis=1) / k
        voiced += np.where(fk < RATE / 2 - 500, weight, 0.0) * np.sin(k * phase)
    syllable = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None) ** 0.7
    phrase = (np.sin(2 * np.pi * 0.35 * t) > -0.6).astype(float)  # a pause now and then
    noise = np.convolve(rng.standard_normal(n), [1, -0.9], "same") * (np.sin(2 * np.pi * 4.0 * t) < -0.85)
    x = (voiced / np.max(np.abs(voiced)) + 0.05 * noise) * syllable * phrase
    return (x / np.sqrt(np.mean(x**2)) * 0.1 * 32767).clip(-32767, 32767).astype(np.int16)


def speech_signal(seconds: float = 4.0) -> tuple[str, Pcm]:
    """A rendered voice prompt (config/prompts) when there is one, else :func:`speech_like`."""
    files = sorted(p for ext in ("wav", "ogg") for p in (REPO / "config/prompts").rglob(f"*.{ext}"))
    if not files:
        return "synthetic speech", speech_like(seconds)
    path = max(files, key=lambda p: sf.info(str(p)).duration)
    data, rate = sf.read(str(path), dtype="float64", always_2d=True)
    x = data.mean(axis=1)
    if rate != RATE:
        x = np.interp(np.arange(int(len(x) * RATE / rate)) * rate / RATE, np.arange(len(x)), x)
    x = x[: int(seconds * RATE)]
    x = x / max(np.sqrt(np.mean(x**2)), 1e-9) * 0.1
    return path.relative_to(REPO).as_posix(), (x * 32767).clip(-32767, 32767).astype(np.int16)


def frames(pcm: Pcm) -> list[Pcm]:
    n = len(pcm) - len(pcm) % FRAME
    return [pcm[i:i + FRAME] for i in range(0, n, FRAME)]


class Clock:
    """A settable clock in seconds."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def run_link(pcm: Pcm, *, loss: float, jitter_ms: float, seed: int = 1, base_ms: float = 30.0,
             call: str = "c1") -> tuple[Pcm, dict[str, Any]]:
    """Send ``pcm`` through Sender -> network (independent losses; delay base + uniform
    0..jitter, so packets overtake each other beyond 20 ms) -> Receiver, on a simulated clock;
    returns what the receiver played (pulled every 20 ms, 7 ms out of phase with capture)."""
    rng = np.random.default_rng(seed)
    clock = Clock()
    tx, rx = Sender(call, clock=clock), Receiver(call, clock=clock)
    events: list[tuple[float, int, bytes | None]] = []  # (time ms, order, packet or None = pull)
    src = frames(pcm)
    for i, f in enumerate(src):
        clock.t = i * FRAME_MS / 1000
        data = tx.push(f)
        if rng.random() >= loss:
            heapq.heappush(events, (i * FRAME_MS + base_ms + rng.uniform(0, jitter_ms), i, data))
    tail = int((base_ms + jitter_ms + 400) / FRAME_MS)
    for k in range(len(src) + tail):
        heapq.heappush(events, (k * FRAME_MS + 7.0, -1, None))
    out: list[Pcm] = []
    while events:
        at, _, packet = heapq.heappop(events)
        clock.t = at / 1000
        if packet is None:
            out.append(rx.pull())
        else:
            rx.push(packet)
    return np.concatenate(out), rx.stats


def aligned(ref: Pcm, out: Pcm, *, window_s: float = 0.5, max_lag_s: float = 0.6) -> tuple[float, float]:
    """Correlation and SNR (dB) of ``out`` against ``ref``, each 0.5 s window of ref aligned on
    its own by cross-correlation (a stretch or catch-up drop moves the lag mid-stream); silent
    windows are left out."""
    w, max_lag = int(window_s * RATE), int(max_lag_s * RATE)
    x, y = ref.astype(np.float64), out.astype(np.float64)
    refs, outs = [], []
    for s in range(0, len(x) - w + 1, w):
        r = x[s:s + w]
        if np.sqrt(np.mean(r**2)) < 32767 * 10 ** (-50 / 20):
            continue
        seg = y[s:s + w + max_lag]
        if len(seg) < w + max_lag:  # too near the end to find any lag
            break
        n = 1 << int(np.ceil(np.log2(len(seg) + w)))
        c = np.fft.irfft(np.fft.rfft(seg, n) * np.conj(np.fft.rfft(r, n)), n)[: len(seg) - w + 1]
        lag = int(np.argmax(c))
        refs.append(r)
        outs.append(seg[lag:lag + w])
    a, b = np.concatenate(refs), np.concatenate(outs)
    corr = float(np.corrcoef(a, b)[0, 1])
    snr = 10 * float(np.log10(np.sum(a**2) / max(float(np.sum((a - b) ** 2)), 1e-9)))
    return corr, snr


class MqttEnd:
    """One end of a call on a real broker: a paho client (QoS 0) whose messages on ``listen``
    go to ``on_message(payload)`` on paho's thread."""

    def __init__(self, port: int, name: str, listen: str, on_message: Any) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{id(self)}")
        self.client.on_message = lambda _c, _u, m: on_message(m.payload)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_connect = lambda c, *_: c.subscribe(listen, qos=0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise RuntimeError(f"{name} could not subscribe to {listen}")

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
