"""A simulated room as a :class:`drivers.audio.Duplex`: for tests, the demo and echo measurements.

The microphone hears ``source`` (samples, looped; or a WAV file: the file backend) plus the
echo of what the speaker played, ``echo_gain_db`` louder or quieter and ``echo_delay_ms``
late, plus Gaussian noise at ``noise_db`` dBFS RMS. As on a real card, a block returned by
the callback leaves the speaker one block later, so the echo path's delay is one block plus
``echo_delay_ms``. What was played is kept (``played``; the last ``keep_s`` seconds) and can
be written to a WAV file.

The clock is a thread that ticks every block in real time, or, with ``realtime=False``,
:meth:`LoopbackAudio.step` run by hand, which makes tests deterministic.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.audio import BLOCK, RATE
from drivers.audio.pcm import FULL_SCALE, clip16, dbfs_gain, fit
from drivers.audio.wavfile import read_wav, write_wav

LATE_S = 0.2  # behind the clock by more than this: skip ahead instead of rushing to catch up


class LoopbackAudio:
    def __init__(self, rate: int = RATE, block: int = BLOCK, *,
                 source: np.ndarray | Path | None = None, echo_gain_db: float | None = None,
                 echo_delay_ms: float = 0, noise_db: float | None = None, realtime: bool = True,
                 seed: int = 0, keep_s: float = 600.0) -> None:
        if echo_delay_ms < 0:
            raise ValueError(f"echo_delay_ms must be 0 or more, not {echo_delay_ms}")
        self.rate, self.block, self.realtime = rate, block, realtime
        src = read_wav(source, rate)[0] if isinstance(source, Path) else source
        self._source = None if src is None or not len(src) else fit(src, len(src))
        self._src_pos = 0
        self._echo_gain = None if echo_gain_db is None else dbfs_gain(echo_gain_db)
        # the speaker's output, oldest first: what reaches the mic this block is the first block
        self._line = np.zeros(block + round(echo_delay_ms * rate / 1000), np.int16)
        self._noise = None if noise_db is None else FULL_SCALE * dbfs_gain(noise_db)
        self._rng = np.random.default_rng(seed)
        self._played: deque[np.ndarray] = deque(maxlen=max(1, round(keep_s * rate / block)))
        self.blocks = 0  # blocks run since construction
        self.late = 0  # times the realtime clock fell behind by more than LATE_S
        self._callback: Callable[[np.ndarray], np.ndarray] | None = None
        self._lock = threading.RLock()  # held through each tick: stop() waits for the callback
        self._stopping = threading.Event()  # the running clock thread's; a new one each start
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._callback is not None

    @property
    def played(self) -> np.ndarray:
        """What the speaker played while the stream ran (int16, the last ``keep_s`` seconds)."""
        with self._lock:
            return np.concatenate(self._played) if self._played else np.zeros(0, np.int16)

    def speak(self, source: np.ndarray) -> None:
        """Someone in the room starts talking: the microphone hears ``source`` (looped) from
        the next block, wherever the stream was (a test's voice is then timed from here, not
        from whatever sound opened the stream before)."""
        with self._lock:
            self._source = fit(source, len(source)) if len(source) else None
            self._src_pos = 0

    def write_played(self, path: Path) -> None:
        write_wav(path, self.played, self.rate)

    def start(self, callback: Callable[[np.ndarray], np.ndarray]) -> None:
        with self._lock:
            if self._callback is not None:
                raise RuntimeError("the loopback stream is already running")
            self._callback = callback
            if self.realtime:
                self._stopping = threading.Event()
                self._thread = threading.Thread(target=self._clock, args=(self._stopping,),
                                                name="loopback-audio", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._callback = None
            thread, self._thread = self._thread, None
            self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def step(self, n: int = 1) -> int:
        """Run ``n`` blocks by hand (``realtime=False``); returns how many ran (none while the
        stream is stopped: the room is silent and nothing is recorded)."""
        if self.realtime:
            raise RuntimeError("step() drives a LoopbackAudio made with realtime=False")
        return sum(self._tick() for _ in range(n))

    def _clock(self, stopping: threading.Event) -> None:
        period = self.block / self.rate
        due = time.monotonic()
        while not stopping.is_set():
            self._tick()
            due += period
            wait = due - time.monotonic()
            if wait < -LATE_S:
                self.late += 1
                due = time.monotonic()
            elif wait > 0:
                stopping.wait(wait)

    def _tick(self) -> bool:
        with self._lock:
            if self._callback is None:
                return False
            out = fit(self._callback(self._mic()), self.block)
            self._played.append(out)
            self._line = np.concatenate([self._line[self.block:], out])
            self.blocks += 1
            return True

    def _mic(self) -> np.ndarray:
        mic = np.zeros(self.block)
        if self._source is not None:
            mic += self._source[(self._src_pos + np.arange(self.block)) % len(self._source)]
            self._src_pos = (self._src_pos + self.block) % len(self._source)
        if self._echo_gain is not None:
            mic += self._echo_gain * self._line[:self.block]
        if self._noise is not None:
            mic += self._rng.normal(0.0, self._noise, self.block)
        return clip16(mic)
