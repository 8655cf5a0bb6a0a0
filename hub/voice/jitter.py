"""Adaptive jitter buffer: packets in whatever order and timing the network gives, one frame
out per pull(), every 20 ms, driven by the sound card's clock.

Policy (docs/voice.md):
- Packets are keyed by sequence number (unwrapped from u16): reordered packets fall into
  place, duplicates and packets whose turn has passed (late) are counted and dropped.
- Each packet's relative delay ``r = arrival - capture ts`` (clock offsets cancel) goes into a
  window of the last 100 packets (2 s). Jitter is the spread p97(r) - min(r); the target
  playout delay is jitter + 10 ms, bounded 20..200 ms, 40 ms until 4 packets are in.
- The delay actually buffered, ``B = now - ts(frame played) - min(r)``, is steered to the
  target: 15 ms above it (a burst after a stall on the 4G link, the two clocks drifting),
  whole frames are dropped at once, so delay does not creep; 10 ms below it, one frame is
  concealed without advancing (a stretch). Both act only after 3 pulls in a row out of that
  band (a late audio callback is not a trend; a stretch at once when B is 40 ms short, as
  when the target jumps), and a drop waits a second after any stretch or drop, so the two
  cannot oscillate.
- A missing frame whose successor has arrived is lost: the decoder rebuilds it from the
  successor's FEC copy, else conceals it (PLC). With nothing buffered (underrun) up to 5
  frames are concealed in place; then playout stops and rebuffers to the target. A MARKER
  packet (the sender paused: mute) stops concealment at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from hub.voice import FRAME_MS
from hub.voice.packet import SEQ_MOD, TS_MOD

WINDOW = 100  # packets in the jitter estimate: 2 s
QUANTILE = 0.97
MARGIN_MS = 10.0
HIGH_MS = 15.0  # above the target: dropping a frame still leaves it at target - 5 ms or more
LOW_MS = 10.0  # below the target: half a frame; any lower and the slowest packets come late
CALM = 50  # pulls (1 s) after the start, a stretch or a drop before a drop
STEADY = 3  # pulls in a row out of the band before acting: one late audio callback is not a trend
MAX_UNDERRUN = 5  # frames concealed with nothing buffered before playout stops
MAX_AHEAD = 250  # frames (5 s) beyond playout: further is a restarted sender, not jitter
RECENT = 512  # sequence numbers remembered to tell duplicates from late packets


@dataclass(frozen=True, slots=True)
class Playout:
    """What the decoder does for one frame."""

    payload: bytes | None  # the frame to decode; None: conceal this frame
    fec: bytes | None = None  # with payload None: the next packet, whose FEC copy rebuilds it
    skipped: tuple[bytes, ...] = ()  # frames dropped to catch up: decode them first, unheard,
    # so the decoder's state runs on and the next frame decodes as if they had been played
    ts_ms: int | None = None  # with a payload: its capture time as sent (u32), for latency


def _unwrap(value: int, ref: int, mod: int) -> int:
    """``value`` (mod ``mod``) as the integer nearest to ``ref``."""
    diff = (value - ref) % mod
    return ref + diff - mod if diff >= mod // 2 else ref + diff


class JitterBuffer:
    """Pure: ``clock`` (seconds) is read on push() and pull() only; not thread-safe."""

    def __init__(self, *, clock: Callable[[], float], start_ms: float = 40.0,
                 min_ms: float = 20.0, max_ms: float = 200.0) -> None:
        self._clock = clock
        self.min_ms, self.max_ms = min_ms, max_ms
        self.target_ms = start_ms
        self._frames: dict[int, tuple[int, bytes]] = {}  # unwrapped seq -> (unwrapped ts, payload)
        self._top: tuple[int, int] | None = None  # highest (seq, ts) seen, the unwrap reference
        self._next: int | None = None  # next seq to play; frames below it are late
        self._playing = False
        self._r: deque[float] = deque(maxlen=WINDOW)  # relative delays, ms
        self._recent: deque[int] = deque(maxlen=RECENT)
        self._recent_set: set[int] = set()
        self._underrun = 0  # frames concealed in a row with nothing buffered
        self._calm = 0  # pulls since the start, the last stretch or the last drop
        self._high: list[float] = []  # B of the pulls in a row above the band
        self._low = 0  # pulls in a row below it
        self.delay_ms = 0.0  # B at the last frame played
        self.counts = dict.fromkeys(("received", "duplicate", "late", "lost", "recovered",
                                     "concealed", "stretched", "dropped", "resync"), 0)

    @property
    def jitter_ms(self) -> float:
        if not self._r:
            return 0.0
        r = sorted(self._r)
        return r[round(QUANTILE * (len(r) - 1))] - r[0]  # one spike in 2 s does not count

    @property
    def stats(self) -> dict[str, float]:
        return {**self.counts, "delay_ms": round(self.delay_ms, 1),
                "target_ms": round(self.target_ms, 1), "jitter_ms": round(self.jitter_ms, 1),
                "buffered": len(self._frames)}

    def _remember(self, seq: int) -> None:
        if len(self._recent) == RECENT:
            self._recent_set.discard(self._recent[0])
        self._recent.append(seq)
        self._recent_set.add(seq)

    def push(self, seq: int, ts_ms: int, payload: bytes, marker: bool = False) -> None:
        """One packet as it arrives (seq u16, ts_ms u32, both wrapping)."""
        now = self._clock() * 1000.0
        if self._top is None:
            self._top = (seq, ts_ms)
        seq = _unwrap(seq, self._top[0], SEQ_MOD)
        ts = _unwrap(ts_ms, self._top[1], TS_MOD)
        if seq in self._recent_set:
            self.counts["duplicate"] += 1
            return
        self._remember(seq)
        self._r.append(now - ts)
        if len(self._r) >= 4:
            self.target_ms = min(self.max_ms, max(self.min_ms, self.jitter_ms + MARGIN_MS))
        if self._next is not None and seq < self._next:
            self.counts["late"] += 1
            return
        if seq > self._top[0]:
            self._top = (seq, ts)
        if self._next is not None and seq - self._next > MAX_AHEAD:
            self.counts["resync"] += 1
            self._frames.clear()
            self._next, self._playing = None, False
        self.counts["received"] += 1
        self._frames[seq] = (ts, payload)
        if self._next is None and len(self._frames) > MAX_AHEAD:  # nobody pulls: keep the newest
            del self._frames[min(self._frames)]
        if marker and self._playing and self._underrun:
            self._playing = False  # starving because the sender paused: rebuffer, do not conceal

    def _buffered_ms(self, now: float, seq: int) -> float:
        return now - self._frames[seq][0] - min(self._r)

    def pull(self) -> Playout | None:
        """The next frame's fate; None when there is nothing to play (silence)."""
        now = self._clock() * 1000.0
        if not self._playing:
            if not self._frames:
                return None
            first = min(self._frames)
            if self._buffered_ms(now, first) < self.target_ms:
                return None
            if self._next is not None:
                self.counts["lost"] += first - self._next
            self._next, self._playing, self._underrun = first, True, 0
        assert self._next is not None
        self._calm += 1
        if self._next in self._frames:
            self._underrun = 0
            b = self._buffered_ms(now, self._next)
            skipped: tuple[bytes, ...] = ()
            self._high = [*self._high, b] if b > self.target_ms + HIGH_MS else []
            self._low = self._low + 1 if b < self.target_ms - LOW_MS else 0
            if len(self._high) >= STEADY and self._calm > CALM:
                excess = min(self._high) - self.target_ms  # > HIGH_MS
                skipped = self._drop(int((excess + FRAME_MS - HIGH_MS) // FRAME_MS))
                self._high = []
            elif self._low >= STEADY or b < self.target_ms - 2 * FRAME_MS:  # or the target jumped
                self._calm = self._low = 0
                self.counts["stretched"] += 1
                self.counts["concealed"] += 1
                return Playout(None)
            if self._next in self._frames:
                self.delay_ms = self._buffered_ms(now, self._next)
                ts, payload = self._frames.pop(self._next)
                self._next += 1
                return Playout(payload, skipped=skipped, ts_ms=ts % TS_MOD)
        if self._frames:  # _next is missing and a later frame is here: lost
            self.counts["lost"] += 1
            following = self._frames.get(self._next + 1)
            self._next += 1
            self.counts["recovered" if following else "concealed"] += 1
            return Playout(None, following[1] if following else None)
        self._underrun += 1
        if self._underrun > MAX_UNDERRUN:
            self._playing = False
            return None
        self.counts["concealed"] += 1
        return Playout(None)

    def _drop(self, n: int) -> tuple[bytes, ...]:
        """Skip n frames (catch-up), keeping at least the newest; returns those present."""
        assert self._next is not None
        skipped = []
        for _ in range(min(n, max(self._frames) - self._next)):
            if frame := self._frames.pop(self._next, None):
                skipped.append(frame[1])
            self._next += 1
            self.counts["dropped"] += 1
        self._calm = 0
        return tuple(skipped)
