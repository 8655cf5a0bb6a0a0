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

MAX_DATA_LEN = 256  # longest DATA accepted; real fall-radar frames carry < 40 bytes, longer is noise

Row = Callable[[bytes], Reading | None]  # payload -> reading; None when the payload does not fit the row


class FrameFormat(Protocol):
    """Framing of one family. ``buf[at:]`` starts with ``sof``; nothing is copied until a frame is whole."""

    sof: bytes  # start-of-frame marker
    header_len: int  # bytes needed before frame_len can tell the length

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
    """

    def __init__(self, fmt: FrameFormat, table: Mapping[int, Row]) -> None:
        self._fmt = fmt
        self._table = table
        self._buf = bytearray()  # unconsumed input: at most a partial frame (plus one chunk while feeding)
        self.frames = 0  # frames accepted (checksums and footer good)
        self.skipped = 0  # bytes discarded outside accepted frames (noise, refused candidates)
        # refusals by reason: head_checksum, data_checksum (family T), checksum, footer (family S),
        # length (LEN over MAX_DATA_LEN), payload (good frame, payload does not fit its row)
        self.errors: Counter[str] = Counter()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of a frame not yet complete."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget a partial frame (the port was reopened: its tail will never come)."""
        self.skipped += len(self._buf)
        self._buf.clear()

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
                self._refuse(size)
                pos += 1
                continue
            if end - pos < size:
                break
            opened = open_frame(buf, pos, size)
            if isinstance(opened, str):
                self._refuse(opened)
                pos += 1
                continue
            pos += size
            self.frames += 1
            out.append(self._decode(*opened))
        del buf[:pos]
        return out

    def _refuse(self, reason: str) -> None:
        self.errors[reason] += 1
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
