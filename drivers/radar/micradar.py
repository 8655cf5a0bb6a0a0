"""Family S, the Micradar "SY" protocol: Seeed MR60FDA1 / MR24, Micradar R60, DFRobot C1001 (SEN0623).

Frame layout (hardware.md), multi-byte fields big-endian::

    offset 0..1     0x53 0x59 header ("SY")
           2        CTRL (function group)
           3        CMD (within the group; C1001 queries set bit 7)
           4..5     LEN u16, bytes of DATA
           6..      DATA[LEN]
           6+LEN    SUM = (sum of bytes 0 .. 5+LEN) & 0xFF
           7+LEN    0x54 0x43 footer

The footer bytes can occur in DATA: frames are cut by LEN, never by searching for the footer.
A type word here is CTRL << 8 | CMD.

A query's DATA is the byte 0x0F; no answer to a product, state or C1001 setting query is that
byte alone, so our own query frames, should they come back (an echoing adapter), never decode
as answers. The vendors' own acknowledgements are the exception, and cannot be told from an
echo: the heartbeat and reset answers are the query byte for byte, and the C1001 acknowledges a
setting by echoing it (hardware.md).
"""

from __future__ import annotations

import struct

from drivers.radar.codec import Commands, Row, const, flag, u8
from drivers.radar.readings import (
    BodyMovement,
    CommandReply,
    Fall,
    Heartbeat,
    Mode,
    Motion,
    Parameters,
    Presence,
    ProductField,
    ProductInfo,
    Reading,
    Residency,
)

FOOTER = b"\x54\x43"
HEAD_LEN = 6  # header..LEN
MAX_DATA = 256  # our bound, not a vendor's (none documents one): the longest frame seen is ~20 bytes
QUERY = b"\x0f"  # the data byte of a query

# type words, MR60FDA1 (hardware.md); the C1001 answers a query (CMD | 0x80) with the same layout
HEARTBEAT = 0x0101  # query and report, data 0x0F
RESET = 0x0102  # data 0x0F; the module echoes it
PRODUCT: dict[ProductField, int] = {"model": 0x02A1, "product_id": 0x02A2, "hardware": 0x02A3,
                                    "firmware": 0x02A4}  # ASCII, e.g. "G60FD1SYv010104"
PRESENCE = 0x8001  # u8 0/1
MOTION = 0x8002  # u8 0 none, 1 still, 2 active; reported on change
BODY_MOVEMENT = 0x8003  # u8, once a second
FALL = 0x8301  # u8 0/1; reported on change
RESIDENCY = 0x8305  # u8 0/1: stationary residency
# C1001 only (hardware.md; command words cross-checked against DFRobot's Arduino library)
SET_MODE = 0x0208  # u8 1 fall, 2 sleep; the switch takes ~10 s
MODE_QUERY = 0x02A8  # not SET_MODE | QUERY_BIT: the one query outside the rule (hardware.md, DFRobot)
SET_INSTALL_HEIGHT = 0x0602  # u16 cm
SET_SENSITIVITY = 0x830D  # u8
QUERY_BIT = 0x0080  # C1001 query word = setting word | QUERY_BIT, answered with the same layout

MODES: dict[Mode, int] = {"fall": 1, "sleep": 2}


def checksum(data: bytes | bytearray) -> int:
    """Low byte of the sum of the covered bytes."""
    return sum(data) & 0xFF


class Micradar:
    sof = b"\x53\x59"
    header_len = HEAD_LEN
    max_data = MAX_DATA

    def claimed_len(self, buf: bytearray, at: int) -> int:
        return HEAD_LEN + (buf[at + 4] << 8 | buf[at + 5]) + 3

    def frame_len(self, buf: bytearray, at: int) -> int | str:
        length = buf[at + 4] << 8 | buf[at + 5]
        return HEAD_LEN + length + 3 if length <= MAX_DATA else "length"

    def open(self, buf: bytearray, at: int, size: int) -> tuple[int, bytes] | str:
        end = at + size - 3  # the SUM byte
        if checksum(buf[at:end]) != buf[end]:
            return "checksum"
        if buf[end + 1:end + 3] != FOOTER:
            return "footer"
        return buf[at + 2] << 8 | buf[at + 3], bytes(buf[at + HEAD_LEN:end])

    def encode(self, type_word: int, payload: bytes = b"") -> bytes:
        frame = struct.pack(">2sHH", self.sof, type_word, len(payload)) + payload
        return frame + bytes([checksum(frame)]) + FOOTER


FORMAT = Micradar()

def _body_movement(p: bytes) -> Reading | None:
    return BodyMovement(p[0]) if p else None


def _product(field: ProductField) -> Row:
    # NUL padding dropped; the bare query byte is our own query, not an answer
    return lambda p: ProductInfo(field, p.rstrip(b"\0").decode("ascii", "replace")) if p != QUERY else None


# type word -> row, MR60FDA1 and R60. A new reading is one row plus a byte vector in the tests.
TABLE: dict[int, Row] = {
    HEARTBEAT: const(Heartbeat()),
    RESET: const(CommandReply("reset", True)),
    **{word: _product(field) for field, word in PRODUCT.items()},
    PRESENCE: flag(Presence),
    MOTION: u8({0: Motion("none"), 1: Motion("still"), 2: Motion("active")}),
    BODY_MOVEMENT: _body_movement,
    FALL: flag(Fall),
    RESIDENCY: flag(Residency),
}


def _height_cm(p: bytes) -> Reading | None:
    return Parameters(install_height_m=int.from_bytes(p[:2], "big") / 100) if len(p) >= 2 else None


def _sensitivity(p: bytes) -> Reading | None:
    # the bare query byte (15, past any documented scale) is our own query, not an answer
    return Parameters(sensitivity=p[0]) if len(p) == 1 and p != QUERY else None


# C1001: the shared rows, query answers (CMD | 0x80, same layout), and its settings.
C1001_TABLE: dict[int, Row] = {
    **TABLE,
    **{word | QUERY_BIT: TABLE[word] for word in (PRESENCE, MOTION, BODY_MOVEMENT, FALL, RESIDENCY)},
    SET_INSTALL_HEIGHT: const(CommandReply("set_install_height", True)),  # echo of the value set
    SET_INSTALL_HEIGHT | QUERY_BIT: _height_cm,
    SET_SENSITIVITY: const(CommandReply("set_sensitivity", True)),
    SET_SENSITIVITY | QUERY_BIT: _sensitivity,
    SET_MODE: const(CommandReply("set_mode", True)),
    MODE_QUERY: u8({code: Parameters(mode=name) for name, code in MODES.items()}),
}


class MicradarCommands(Commands):
    """MR60FDA1 and R60: hardware.md documents no setting words for them, only queries and reset."""

    def keepalive(self) -> bytes:
        return FORMAT.encode(HEARTBEAT, QUERY)

    def query_product(self, field: ProductField = "firmware") -> bytes:
        return FORMAT.encode(PRODUCT[field], QUERY)

    def reset(self) -> bytes:
        return FORMAT.encode(RESET, QUERY)


class C1001Commands(MicradarCommands):
    """DFRobot C1001: needs several seconds after power-up before it answers."""

    def query_parameters(self) -> bytes:
        """Three queries in one write: install height, fall sensitivity, mode (three replies)."""
        return b"".join(FORMAT.encode(word, QUERY)
                        for word in (SET_INSTALL_HEIGHT | QUERY_BIT, SET_SENSITIVITY | QUERY_BIT, MODE_QUERY))

    def set_install_height(self, metres: float) -> bytes:
        # bounds as for family T; DFRobot documents no range (unverified)
        self._require(1.0 <= metres <= 5.0, "install height", metres, "1.0 to 5.0 m")
        return FORMAT.encode(SET_INSTALL_HEIGHT, round(metres * 100).to_bytes(2, "big"))

    def set_sensitivity(self, value: int) -> bytes:
        # 0..3, larger is more sensitive (DFRobot's documentation of its library; unverified on a module)
        self._require(isinstance(value, int) and 0 <= value <= 3, "fall sensitivity", value, "0 to 3")
        return FORMAT.encode(SET_SENSITIVITY, bytes([value]))

    def set_mode(self, mode: Mode) -> bytes:
        self._require(mode in MODES, "mode", mode, " or ".join(MODES))
        return FORMAT.encode(SET_MODE, bytes([MODES[mode]]))
