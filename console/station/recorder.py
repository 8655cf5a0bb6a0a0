"""Call recordings: both directions of a call decoded and written as one Ogg/Opus file.

The station hears a call's packets as the console and the hub do (``voice/up`` from the hub,
``voice/down`` from the console) and decodes each direction with its own jitter buffer
(:class:`hub.voice.pipeline.Receiver`), pulled in step every 20 ms, so the two stay aligned
as the people heard each other. The file is stereo: the elder (the hub's microphone) on the
left, the officer on the right, so either can be listened to alone. Time runs from the hub's
first packet, when its microphone opened (the officer's packets before it reached nobody:
the hub was still announcing); losses are concealed, pauses are silence.

The file is flushed every second: if the station dies, the recording keeps what came before
(the calls table marks it incomplete at the next start, :meth:`Calls.interrupted`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from hub.common import wire
from hub.voice import FRAME, FRAME_MS, RATE
from hub.voice.packet import VoiceError, decode_packet
from hub.voice.pipeline import Receiver

log = logging.getLogger(__name__)

FLUSH_EVERY = 50  # frames: one second
MAX_CATCH_UP = 50  # frames written in one tick at most; a longer stall is skipped, not replayed


@dataclass
class Recording:
    """One call's file and its two receivers, which read :attr:`now`: the arrival time for a
    packet, the time a frame was due for a pull, so a frame written late (the event loop was
    busy) is still pulled at its own 20 ms step."""

    call: str
    hub: str
    path: Path
    file: sf.SoundFile
    now: float = 0.0
    t0: float | None = None  # the first packet: the recording's time zero
    frames: int = 0
    packets: dict[str, int] = field(default_factory=lambda: {wire.VOICE_UP: 0, wire.VOICE_DOWN: 0})

    def __post_init__(self) -> None:
        self.up = Receiver(self.call, clock=self._read)
        self.down = Receiver(self.call, clock=self._read)

    def _read(self) -> float:
        return self.now

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_MS / 1000


class Recorder:
    """The station's recordings in progress; ``clock`` is monotonic seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.recordings: dict[str, Recording] = {}
        self.rejected = 0  # packets that are not voice packets at all

    def open(self, call: str, hub: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = sf.SoundFile(path, "w", samplerate=RATE, channels=2, format="OGG", subtype="OPUS")
        self.recordings[call] = Recording(call, hub, path, f)
        log.info("recording call %s with %s to %s", call, hub, path)

    def packet(self, hub: str, leaf: str, data: bytes) -> None:
        """A packet heard on a hub's voice topic. Raises VoiceError for one that is no voice
        packet; those of calls not recorded here (or of another hub) are ignored."""
        try:
            call = decode_packet(data).call
        except VoiceError:
            self.rejected += 1
            raise
        rec = self.recordings.get(call)
        if rec is None or rec.hub != hub or (rec.t0 is None and leaf != wire.VOICE_UP):
            return
        rec.now = self._clock()
        if rec.t0 is None:
            rec.t0 = rec.now
        rec.packets[leaf] += 1
        (rec.up if leaf == wire.VOICE_UP else rec.down).push(data)

    def tick(self) -> None:
        """Write every frame that is due by now (call every 20 ms or so)."""
        now = self._clock()
        for rec in self.recordings.values():
            if rec.t0 is None:
                continue
            due = min(int((now - rec.t0) * 1000 // FRAME_MS) - rec.frames, MAX_CATCH_UP)
            for _ in range(max(due, 0)):
                rec.now = rec.t0 + (rec.frames + 1) * FRAME_MS / 1000
                frame = np.column_stack([rec.up.pull(), rec.down.pull()]).astype(np.int16)
                assert frame.shape == (FRAME, 2)
                rec.file.write(frame)
                rec.frames += 1
                if rec.frames % FLUSH_EVERY == 0:
                    rec.file.flush()
            if due > MAX_CATCH_UP:  # the station stalled: the gap is not written
                rec.t0 = now - rec.frames * FRAME_MS / 1000

    def close(self, call: str) -> Recording | None:
        """Finish the call's file; one with nothing in it (the home never opened its
        microphone) is removed, as a file without a page of sound is no valid Ogg file."""
        rec = self.recordings.pop(call, None)
        if rec is None:
            return None
        rec.file.close()
        if not rec.frames:
            rec.path.unlink(missing_ok=True)
        log.info("call %s recorded: %.1f s, packets %s, %s", call, rec.seconds, rec.packets,
                 rec.path if rec.frames else "no file")
        return rec

    def close_all(self) -> list[Recording]:
        return [r for c in list(self.recordings) if (r := self.close(c))]
