"""What the two frame families share: the byte-fed decoder loop, table rows, the command base.

A family is a :class:`FrameFormat` (its start marker, how long a frame is, how its checksums
and footer are checked, how to build one) plus a table ``type word -> row``. The loop that
finds frames in a byte stream, resynchronises and counts rejections is the same for both.
Sans-IO: bytes in, readings out; nothing here blocks or raises on bad input.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Protocol

from drivers.radar.readings import Mode, ProductField, Reading, Unknown

Row = Callable[[bytes], Reading | None]  # payload -> reading; None when the payload does not fit the row


class FrameFormat(Protocol):
    """Framing of one family. ``buf[at:]`` starts with ``sof``; nothing is copied until a frame is whole."""

    sof: bytes  # start-of-frame marker
    header_len: int  # bytes needed before frame_len can tell the length
    max_data: int  # longest DATA the family's vendor allows; a longer LEN is refused on the header

    def claimed_len(self, buf: bytearray, at: int) -> int:
        """Total length the header at ``buf[at:]`` claims, unchecked: how far one bad frame
        reaches, so that it is counted once."""
        ...

    def frame_len(self, buf: bytearray, at: int) -> int | str:
        """Total frame length from the header at ``buf[at:]``, or the reason it is refused."""
        ...

    def open(self, buf: bytearray, at: int, size: int) -> tuple[int, bytes] | str:
        """(type word, payload) of the whole frame ``buf[at:at+size]``, or the reason it is refused."""
        ...

    def encode(self, type_word: int, payload: bytes = b"") -> bytes:
        """A well-formed frame (what the module sends, or a command to it)."""
        ...


class Decoder:
    """Finds frames of one family in a byte stream and decodes them with a table.

    Feed it whatever the UART returned, in any pieces: byte-at-a-time feeding gives the same
    readings as one big chunk (but see below). A refused frame candidate costs one byte: the
    search resumes at the byte after its start marker, so a real frame hidden behind noise is
    still found.

    A candidate whose header is good but whose DATA has not all arrived is waited for, unless
    a complete, valid frame already starts inside the length it claims: then it was cut off
    (the module restarted mid-frame, bytes were lost) or its header lies, and the frame behind
    it is decoded now rather than when enough bytes to fill the claim have come (seconds to
    minutes from a module that reports on change); the cut-off one counts as ``truncated``. The
    price: a real long frame whose DATA, while it arrives, holds bytes that pass for a complete
    frame (family T: the 8-bit header checksum, and the data checksum unless that LEN is 0;
    family S: checksum and footer) is given up and the inner "frame" decoded. Only frames the
    hub does not use are long (point clouds, zone lists), and no row takes such a stray frame
    unless its TYPE and payload also fit one. The one case where the cut of the stream matters:
    a cut-off frame whose claimed length, filled by what follows, passes its data checksum by
    chance (1 in 256 for family T). Fed in small reads, as the port does, the frame behind it is
    decoded before the claim is filled; in one read, the bogus frame is, as before this look-ahead.

    One bad frame counts once: a refused candidate that starts inside the length another
    counted one claimed (its tail, markers in its DATA) is skipped without being counted.
    """

    def __init__(self, fmt: FrameFormat, table: Mapping[int, Row]) -> None:
        self._fmt = fmt
        self._table = table
        self._buf = bytearray()  # unconsumed input: at most a partial frame (plus one chunk while feeding)
        self._base = 0  # where _buf starts in the stream: the offsets kept below are the stream's
        self._quiet = 0  # refusals before this offset belong to a bad frame already counted
        self._ahead = _Ahead()
        self.frames = 0  # frames accepted (checksums and footer good)
        self.skipped = 0  # bytes discarded outside accepted frames (noise, refused candidates)
        # bad frames by reason: head_checksum, data_checksum (family T), checksum, footer (family S),
        # length (LEN over the family's max_data), truncated (cut off by a whole frame inside its
        # claimed length), payload (good frame, payload does not fit its row)
        self.errors: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened: its tail will never come)."""
        self.skipped += len(self._buf)
        self._base += len(self._buf)
        self._buf.clear()
        self._ahead = _Ahead()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Reading]:
        buf = self._buf
        buf += data
        fmt = self._fmt
        sof, header_len, frame_len, open_frame = fmt.sof, fmt.header_len, fmt.frame_len, fmt.open
        out: list[Reading] = []
        pos, end = 0, len(buf)
        while True:
            start = buf.find(sof, pos)
            if start < 0:  # keep a tail that may be the first bytes of a start marker
                start = max(pos, end - len(sof) + 1)
                self.skipped += start - pos
                pos = start
                break
            self.skipped += start - pos
            pos = start
            if end - pos < header_len:
                break
            size = frame_len(buf, pos)
            if isinstance(size, str):
                self._refuse(size, pos)
                pos += 1
                continue
            if end - pos < size:
                if not self._whole_frame_within(pos + 1, end):
                    break  # wait for the rest
                self._refuse("truncated", pos)
                pos += 1
                continue
            opened = open_frame(buf, pos, size)
            if isinstance(opened, str):
                self._refuse("truncated" if self._whole_frame_within(pos + 1, pos + size) else opened, pos)
                pos += 1
                continue
            pos += size
            self._quiet = self._base + pos  # in step again: the next refusal is a new bad frame
            self.frames += 1
            out.append(self._decode(*opened))
        del buf[:pos]
        self._base += pos
        return out

    def _whole_frame_within(self, at: int, limit: int) -> bool:
        """A complete, valid frame lies in ``buf[at:limit]`` (within a candidate's claimed length,
        whatever else the buffer holds, so that how the stream was cut changes nothing)."""
        return self._ahead.whole_frame_within(self._fmt, self._buf, self._base, at, limit)

    def _refuse(self, reason: str, at: int) -> None:
        if self._base + at >= self._quiet:
            self.errors[reason] += 1
            self._quiet = self._base + at + self._fmt.claimed_len(self._buf, at)
        self.skipped += 1  # the start marker's first byte; the rest is searched again

    def _decode(self, type_word: int, payload: bytes) -> Reading:
        row = self._table.get(type_word)
        reading = row(payload) if row else None
        if reading is None:
            if row:
                self.errors["payload"] += 1
            return Unknown(type_word, payload)
        return reading


class _Ahead:
    """What looking past a frame still arriving has found, by offset in the stream (the buffer
    is cut at every feed). Each candidate is looked at once: one with a good header whose frame
    is not all here yet waits in a heap by where it ends and is opened when it is, so a stream of
    headers that each claim 1024 bytes costs little more than one that does not."""

    def __init__(self) -> None:
        self.scanned = 0  # candidates before this offset have been looked at
        self.waiting: list[tuple[int, int, int]] = []  # heap of (end, start, size): not all here yet
        self.wholes: list[tuple[int, int]] = []  # (start, end) of whole, valid frames, ascending

    def whole_frame_within(self, fmt: FrameFormat, buf: bytearray, base: int, at: int, limit: int) -> bool:
        """Whether a whole, valid frame lies in ``buf[at:limit]`` (``buf`` is the stream from ``base``)."""
        n = len(buf)
        while self.waiting and self.waiting[0][0] <= base + n:
            end, start, size = heapq.heappop(self.waiting)
            if start >= base and not isinstance(fmt.open(buf, start - base, size), str):
                bisect.insort(self.wholes, (start, end))
        scan = max(self.scanned - base, at)  # what lies before at is never asked about again
        while (found := buf.find(fmt.sof, scan)) >= 0 and n - found >= fmt.header_len:
            length = fmt.frame_len(buf, found)
            if isinstance(length, int):
                if n - found < length:
                    heapq.heappush(self.waiting, (base + found + length, base + found, length))
                elif not isinstance(fmt.open(buf, found, length), str):
                    bisect.insort(self.wholes, (base + found, base + found + length))
            scan = found + 1
        self.scanned = base + (found if found >= 0 else max(scan, n - len(fmt.sof) + 1))
        del self.wholes[:bisect.bisect_left(self.wholes, (base, 0))]  # consumed
        first = bisect.bisect_left(self.wholes, (base + at, 0))
        return any(end <= base + limit for _, end in
                   itertools.takewhile(lambda w: w[0] < base + limit, self.wholes[first:]))


def const(reading: Reading) -> Row:
    """A row whose frame means one thing whatever its payload (heartbeat, acknowledgement)."""
    return lambda _: reading


def u8(values: Mapping[int, Reading]) -> Row:
    """A one-byte state: the first payload byte picks the reading; other values do not fit."""
    return lambda p: values.get(p[0]) if p else None


def flag(make: Callable[[bool], Reading]) -> Row:
    """A 0/1 state byte. Anything else is refused rather than guessed (never a fall by accident)."""
    return u8({0: make(False), 1: make(True)})



class Commands:
    """Command frames for one model. What the model lacks raises ValueError naming the model."""

    def __init__(self, model: str) -> None:
        self.model = model

    def keepalive(self) -> bytes:
        """A cheap query the module answers: sent when it has said nothing for a while."""
        raise self._unsupported("keepalive query")

    def query_parameters(self) -> bytes:
        raise self._unsupported("parameter query")

    def query_product(self, field: ProductField = "firmware") -> bytes:
        raise self._unsupported("product-info query")

    def set_install_height(self, metres: float) -> bytes:
        raise self._unsupported("set-install-height")

    def set_fall_threshold(self, metres: float) -> bytes:
        raise self._unsupported("set-fall-threshold")

    def set_sensitivity(self, value: int) -> bytes:
        raise self._unsupported("set-sensitivity")

    def set_mode(self, mode: Mode) -> bytes:
        raise self._unsupported("set-mode")

    def reset(self) -> bytes:
        raise self._unsupported("reset")

    def _unsupported(self, what: str) -> ValueError:
        return ValueError(f"radar model {self.model!r} has no {what} command")

    def _require(self, ok: bool, what: str, value: object, rule: str) -> None:
        if not ok:
            raise ValueError(f"radar model {self.model!r}: {what} {value!r} is out of range ({rule})")
