"""What the two frame families share: the byte-fed decoder loop, table rows, the command base.

A family is a :class:`FrameFormat` (its start marker, how long a frame is, how its checksums
and footer are checked, how to build one) plus a table ``type word -> row``. The loop that
finds frames in a byte stream, resynchronises and counts rejections is the same for both.
Sans-IO: bytes in, readings out; nothing here blocks or raises on bad input.
"""

from __future__ import annotations

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
    readings as one big chunk. A refused frame candidate costs one byte: the search resumes at
    the byte after its start marker, so a real frame hidden behind noise is still found.

    A candidate whose header is good but whose DATA has not all arrived is waited for, unless
    a complete, valid frame already starts inside the length it claims: then it was cut off
    (the module restarted mid-frame, bytes were lost) or its header lies, and the frame behind
    it is decoded now rather than when enough bytes to fill the claim have come (seconds to
    minutes from a module that reports on change). The price is a real long frame whose DATA
    happens to hold a complete frame with both checksums right (family T) or checksum and footer
    (family S): it is given up, the inner frame decoded. Such a pair of collisions is far
    rarer than the cut-off frames it protects against, and only frames the hub does not use are
    long (point clouds, zone lists).

    One bad frame counts once: a refused candidate that starts inside the length another
    counted one claimed (its tail, markers in its DATA) is skipped without being counted.
    """

    def __init__(self, fmt: FrameFormat, table: Mapping[int, Row]) -> None:
        self._fmt = fmt
        self._table = table
        self._buf = bytearray()  # unconsumed input: at most a partial frame (plus one chunk while feeding)
        self._quiet = 0  # refusals before this offset in _buf belong to a bad frame already counted
        self._ahead = 0  # no whole frame starts before this offset in _buf (candidates refused for good)
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
        self._buf.clear()
        self._quiet = self._ahead = 0

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
            self._quiet = pos  # in step again: the next refusal is a new bad frame
            self.frames += 1
            out.append(self._decode(*opened))
        del buf[:pos]
        self._quiet, self._ahead = max(0, self._quiet - pos), max(0, self._ahead - pos)
        return out

    def _whole_frame_within(self, at: int, limit: int) -> bool:
        """A complete, valid frame starts in ``buf[at:limit]`` and has all its bytes in the buffer.

        Candidates refused for good are remembered (``_ahead``), so a long wait fed in small
        reads looks at each only once."""
        buf, fmt = self._buf, self._fmt
        end, settled = len(buf), at <= self._ahead
        at = max(at, self._ahead)
        while (at := buf.find(fmt.sof, at, limit)) >= 0:
            if end - at < fmt.header_len:
                return False
            size = fmt.frame_len(buf, at)
            if isinstance(size, int):
                if end - at < size:
                    settled = False  # it may yet be whole: look at it again next time
                elif not isinstance(fmt.open(buf, at, size), str):
                    return True
            at += 1
            if settled:
                self._ahead = at
        return False

    def _refuse(self, reason: str, at: int) -> None:
        if at >= self._quiet:
            self.errors[reason] += 1
            self._quiet = at + self._fmt.claimed_len(self._buf, at)
        self.skipped += 1  # the start marker's first byte; the rest is searched again

    def _decode(self, type_word: int, payload: bytes) -> Reading:
        row = self._table.get(type_word)
        reading = row(payload) if row else None
        if reading is None:
            if row:
                self.errors["payload"] += 1
            return Unknown(type_word, payload)
        return reading


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
