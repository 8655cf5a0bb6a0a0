"""The one owner of an audio device: prompts, tones and a call's audio share it.

Clips (prompts, tones) play one after another, summed with the far end's audio of an open
call and saturated at full scale rather than wrapped around. The microphone path exists only
between :meth:`Speakerphone.start_call` and :meth:`Speakerphone.end_call`: outside a call the
device's input blocks are dropped on the audio thread and ``on_mic`` is never called (the
elder is never listened to silently; design.md "Privacy").

The device stream is opened by the first clip or call and closed after ``idle_close_s`` of
neither, so the sound card (and a speakerphone's "in use" light) rests between alarms. The
close runs on a thread of its own: PortAudio cannot stop a stream from its own callback. A
clip queued meanwhile reopens it.

Threads: the callback runs on the device's audio thread; ``play``/``start_call``/``end_call``
come from any other. One reentrant lock guards the shared state and is held while ``on_mic``
and ``far`` run, so after ``end_call`` returns they are not called again. The device is only
started and stopped without that lock held (stopping waits for the callback, which needs it).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType

import numpy as np

from drivers.audio import Duplex
from drivers.audio.pcm import fit

log = logging.getLogger("anxin.audio")

IDLE_CLOSE_S = 10.0  # prompts of one alarm come seconds apart: keep the stream for them


class Speakerphone:
    def __init__(self, device: Duplex, *, idle_close_s: float = IDLE_CLOSE_S) -> None:
        self.device = device
        self._idle_limit = max(1, round(idle_close_s * device.rate / device.block))  # blocks
        self._lock = threading.RLock()
        self._device_lock = threading.Lock()  # start/stop; never taken on the audio thread
        self._clips: deque[np.ndarray] = deque()
        self._pos = 0  # samples of the first clip already played
        self._on_mic: Callable[[np.ndarray], None] | None = None
        self._far: Callable[[], np.ndarray] | None = None
        self._open = False  # the device's stream runs (or a pending close will restart it)
        self._idle = 0  # blocks in a row with neither clip nor call
        self._closing = False
        self.errors = 0  # on_mic/far calls that raised; counted, the first logged

    @property
    def rate(self) -> int:
        return self.device.rate

    @property
    def block(self) -> int:
        return self.device.block

    @property
    def mic_open(self) -> bool:
        return self._on_mic is not None

    @property
    def streaming(self) -> bool:
        """The device's stream is open."""
        return self._open

    def idle(self) -> bool:
        """Nothing queued or playing."""
        with self._lock:
            return not self._clips

    def play(self, clip: np.ndarray) -> float:
        """Queue a clip (mono int16 at the device's rate) after those queued; its length in s."""
        clip = np.asarray(clip)
        if clip.ndim != 1 or clip.dtype != np.int16:
            raise ValueError(f"a clip is mono int16 samples, not {clip.dtype} of shape {clip.shape}")
        if not len(clip):
            return 0.0
        with self._lock:
            self._clips.append(clip)
        try:
            self._ensure_open()
        except Exception:
            with self._lock:  # nothing can play it; a later clip must not find it queued
                self._clips.clear()
                self._pos = 0
            raise
        return len(clip) / self.rate

    def start_call(self, on_mic: Callable[[np.ndarray], None], far: Callable[[], np.ndarray]) -> None:
        """Open the microphone path: each block, on_mic(mic_block), and far() is played."""
        with self._lock:
            if self._on_mic is not None:
                raise RuntimeError("a call is already open on this speakerphone")
            self._on_mic, self._far = on_mic, far
        try:
            self._ensure_open()
        except Exception:
            self.end_call()
            raise
        log.info("microphone open")

    def end_call(self) -> None:
        """Close the microphone path; queued clips play on."""
        with self._lock:
            was_open, self._on_mic, self._far = self._on_mic is not None, None, None
        if was_open:
            log.info("microphone closed")

    def close(self) -> None:
        """End any call, drop the queued clips and close the device's stream."""
        self.end_call()
        with self._lock:
            self._clips.clear()
            self._pos = 0
        with self._device_lock:
            if self._open:
                self.device.stop()
                self._open = False

    def __enter__(self) -> Speakerphone:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _ensure_open(self) -> None:
        if self._open:
            return  # running, or a pending close will see the work and restart it
        with self._device_lock:
            if not self._open:
                self.device.start(self._tick)
                self._open = True

    def _tick(self, mic: np.ndarray) -> np.ndarray:
        """One block, on the audio thread."""
        with self._lock:
            out = np.zeros(self.block, np.int32)
            if self._on_mic is not None and self._far is not None:
                try:
                    self._on_mic(mic)
                    out += fit(self._far(), self.block)
                except Exception:
                    self.errors += 1
                    if self.errors == 1:  # then counted only: this runs 50 times a second
                        log.exception("call audio failed; the block plays without it")
            filled = 0
            while self._clips and filled < self.block:
                clip = self._clips[0]
                take = min(self.block - filled, len(clip) - self._pos)
                out[filled:filled + take] += clip[self._pos:self._pos + take]
                filled += take
                self._pos += take
                if self._pos == len(clip):
                    self._clips.popleft()
                    self._pos = 0
            if self._clips or self._on_mic is not None:
                self._idle = 0
            else:
                self._idle += 1
                if self._idle >= self._idle_limit and not self._closing:
                    self._closing = True
                    threading.Thread(target=self._close_when_idle, name="speakerphone-close",
                                     daemon=True).start()
            return np.clip(out, -32768, 32767).astype(np.int16)

    def _close_when_idle(self) -> None:
        with self._device_lock:
            with self._lock:
                if not self._open or self._clips or self._on_mic is not None:
                    self._closing = False
                    return
            self.device.stop()
            with self._lock:
                self._closing = False
                self._idle = 0
                again = bool(self._clips or self._on_mic is not None)  # came while stopping
                self._open = again
            if again:
                try:
                    self.device.start(self._tick)
                except Exception:
                    log.exception("the audio device would not reopen; queued clips and the call's "
                                  "audio are dropped")
                    with self._lock:
                        self._open, self._on_mic, self._far = False, None, None
                        self._clips.clear()
                        self._pos = 0
