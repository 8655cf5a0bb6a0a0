"""Family T, "TinyFrame": Seeed MR60FDA2 and Hi-Link HLK-LD6002C.

Frame layout (Hi-Link's TinyFrame protocol reference V1.2, 1.2; as implemented by ESPHome's
seeed_mr60fda2 and Seeed's Arduino library), header fields big-endian, DATA values
little-endian::

    offset 0        SOF 0x01
           1..2     ID u16 (0 in our commands; ignored on receipt)
           3..4     LEN u16, bytes of DATA: at most 1024 (Hi-Link V1.2, 1.2)
           5..6     TYPE u16
           7        HEAD_CKSUM = ~XOR(bytes 0..6) & 0xFF
           8..      DATA[LEN]
           8+LEN    DATA_CKSUM = ~XOR(DATA) & 0xFF      (absent when LEN == 0)

The module acknowledges every command frame with an empty frame of the command's TYPE before
it answers (Hi-Link V1.2, 1.3; the MR60FDA2 is taken to do the same: the field trial of issue 17
saw such frames, Seeed's documents do not say): those decode as :class:`Received`, never as an
answer. Hi-Link's own examples disagree on whether an empty frame carries a DATA_CKSUM (2.2.9
shows FF, 2.2.4 none); we send none, as ESPHome does, and a stray FF after a receipt is skipped
as noise. Answers
have layouts no command of ours has (a one-byte result, a 12- or 28-byte parameter block), so
our own command frames, should they come back (an echoing adapter, TX wired to RX), never
decode as an answer either.

The two models differ in how they report presence. The LD6002C reports it per detection zone
(0x0A0A) and uses 0x0A14 for its working mode (Hi-Link V1.2, 2.1.8 and 2.1.17); the MR60FDA2
reports one flag as 0x0F09 (Seeed's library, "ReportUnmannedDetection"; ESPHome's
seeed_mr60fda2, PEOPLE_EXIST_TYPE_BUFFER). Hi-Link's plain LD6002 and the LD6002B are not fall
radars (see drivers/radar/models.py).
"""

from __future__ import annotations

import math
import struct
from functools import reduce
from operator import xor

from drivers.radar.codec import Commands, Row, flag, u8
from drivers.radar.readings import (
    Command,
    CommandReply,
    Fall,
    Parameters,
    PowerMode,
    Presence,
    Reading,
    Received,
    ReplyTo,
)

# TYPE words. Not decoded, left to Unknown (liveness only), because the hub has no use for them
# or their layouts are unverified: 0x0E0E height upload (u32 per Hi-Link, unit not given),
# 0x0A04 targets and 0x0A08 point cloud (LD6002C, variable length), 0x0A0B..0x0A13 zone and
# low-power settings (LD6002C, answers to 0x0201 commands we do not send).
FALL = 0x0E02  # u8: 0 normal, 1 fall; pushed by the module (Hi-Link V1.2, 2.2.2)
SET_INSTALL_HEIGHT = 0x0E04  # f32 m; answer: u8 1 = accepted (2.2.3)
PARAMETERS = 0x0E06  # empty query; answer: see _parameters (2.2.4)
SET_FALL_THRESHOLD = 0x0E08  # f32 m; answer: u8 (2.2.5)
SET_SENSITIVITY = 0x0E0A  # u32 frames averaged, 3..30; answer: u8 (2.2.6)
SET_ALARM_AREA = 0x0E0C  # 4 x f32 m; answer: u8 (2.2.7)
RESET = 0x2110  # empty; factory settings. Hi-Link: one-way, so the receipt is all that comes
# (2.2.9); a one-byte result, as the setters give, is taken too (unverified on an MR60FDA2)
PRESENCE = 0x0F09  # MR60FDA2: u8 0 nobody, 1 someone
ZONES = 0x0A0A  # LD6002C: 4 x u32, 1 = someone in detection zone 0..3 (2.1.8); presence is someone
# in any zone (unverified: which zones a module fresh from the factory has set, 0x0201/0x0202)
WORKING_MODE = 0x0A14  # LD6002C: u8 0 low power, 1 normal; sent on a switch (2.1.17)

HEAD_LEN = 8  # SOF..HEAD_CKSUM
MAX_DATA = 1024  # Hi-Link V1.2, 1.2: "maximum 1024 bytes" (Seeed's library stops at 360, ESPHome at 28)

# the commands we send, by TYPE: an empty frame of one is the module's receipt of it
COMMANDS: dict[int, Command] = {
    PARAMETERS: "query_parameters", SET_INSTALL_HEIGHT: "set_install_height",
    SET_FALL_THRESHOLD: "set_fall_threshold", SET_SENSITIVITY: "set_sensitivity",
    SET_ALARM_AREA: "set_alarm_area", RESET: "reset",
}


def checksum(data: bytes | bytearray) -> int:
    """~XOR of the covered bytes, & 0xFF."""
    return ~reduce(xor, data, 0) & 0xFF


class TinyFrame:
    sof = b"\x01"
    header_len = HEAD_LEN
    max_data = MAX_DATA

    def claimed_len(self, buf: bytearray, at: int) -> int:
        length = buf[at + 3] << 8 | buf[at + 4]
        return HEAD_LEN + length + 1 if length else HEAD_LEN

    def frame_len(self, buf: bytearray, at: int) -> int | str:
        if checksum(buf[at:at + 7]) != buf[at + 7]:
            return "head_checksum"
        length = buf[at + 3] << 8 | buf[at + 4]
        if length > MAX_DATA:
            return "length"
        return HEAD_LEN + length + 1 if length else HEAD_LEN

    def open(self, buf: bytearray, at: int, size: int) -> tuple[int, bytes] | str:
        payload = bytes(buf[at + HEAD_LEN:at + size - 1]) if size > HEAD_LEN else b""
        if payload and checksum(payload) != buf[at + size - 1]:
            return "data_checksum"
        return buf[at + 5] << 8 | buf[at + 6], payload

    def encode(self, type_word: int, payload: bytes = b"") -> bytes:
        head = struct.pack(">BHHH", 0x01, 0, len(payload), type_word)  # ID 0
        frame = head + bytes([checksum(head)])
        return frame + payload + bytes([checksum(payload)]) if payload else frame


FORMAT = TinyFrame()


def _parameters(p: bytes) -> Reading | None:
    # DATA offsets: 0 install height f32 m, 4 fall threshold f32 m, 8 sensitivity u32,
    # 12..27 alarm area 4 x f32 m (x left, x right, z front, z back). Hi-Link and Seeed's
    # library send and read all 28 bytes; ESPHome reads only the first 12. Accept either.
    if len(p) < 12:
        return None
    floats = struct.unpack_from("<ff", p) + (struct.unpack_from("<4f", p, 12) if len(p) >= 28 else ())
    if not all(map(math.isfinite, floats)):
        return None
    height, threshold, *area = (round(v, 3) for v in floats)
    return Parameters(install_height_m=height, fall_threshold_m=threshold,
                      sensitivity=struct.unpack_from("<I", p, 8)[0],
                      alarm_area_m=(area[0], area[1], area[2], area[3]) if area else None)


def _result(command: ReplyTo) -> Row:
    """A setter's answer: exactly one byte, 0 failed or 1 done (what we send the setter is 4 or 16)."""
    return lambda p: CommandReply(command, p == b"\x01") if p in (b"\x00", b"\x01") else None


def _zones(p: bytes) -> Reading | None:
    if len(p) != 16:
        return None
    zones = struct.unpack("<4I", p)
    if any(z > 1 for z in zones):
        return None  # not a state the reference defines: refused, not guessed
    return Presence(any(zones), zones=tuple(bool(z) for z in zones))


def _receipt(row: Row, command: Command) -> Row:
    """A command's TYPE: an empty frame is the module's receipt, anything else goes to ``row``."""
    return lambda p: row(p) if p else Received(command)


_ANSWERS: dict[int, Row] = {
    PARAMETERS: _parameters,
    SET_INSTALL_HEIGHT: _result("set_install_height"),
    SET_FALL_THRESHOLD: _result("set_fall_threshold"),
    SET_SENSITIVITY: _result("set_sensitivity"),
    SET_ALARM_AREA: _result("set_alarm_area"),
    RESET: _result("reset"),
}
_COMMON: dict[int, Row] = {
    FALL: flag(Fall),
    **{word: _receipt(_ANSWERS[word], command) for word, command in COMMANDS.items()},
}
# TYPE -> row, per model. A new reading is one row here plus a byte vector in
# tests/drivers/radar/test_codec.py.
MR60FDA2_TABLE: dict[int, Row] = {**_COMMON, PRESENCE: flag(Presence)}
LD6002C_TABLE: dict[int, Row] = {
    **_COMMON,
    ZONES: _zones,
    WORKING_MODE: u8({0: PowerMode(low_power=True), 1: PowerMode(low_power=False)}),
}


class TinyFrameCommands(Commands):
    """MR60FDA2 and LD6002C commands: the same TYPE words and layouts (Hi-Link V1.2, 2.2)."""

    def keepalive(self) -> bytes:
        return self.query_parameters()  # family T has no heartbeat; the parameter query is harmless

    def query_parameters(self) -> bytes:
        return FORMAT.encode(PARAMETERS)

    def set_install_height(self, metres: float) -> bytes:
        # Seeed's library: "1 to 5 m (not include 1.0 m)"; Hi-Link: 1.0 - 5.0 m
        self._require(1.0 < metres <= 5.0, "install height", metres, "above 1.0 m, at most 5.0 m")
        return FORMAT.encode(SET_INSTALL_HEIGHT, struct.pack("<f", metres))

    def set_fall_threshold(self, metres: float) -> bytes:
        # default 0.6 m; Hi-Link gives 0.3 - 1.5 m, ESPHome offers 0.0 - 0.6: the wider bounds are
        # a sanity check
        self._require(0.0 <= metres <= 1.5, "fall threshold", metres, "0.0 to 1.5 m")
        return FORMAT.encode(SET_FALL_THRESHOLD, struct.pack("<f", metres))

    def set_sensitivity(self, value: int) -> bytes:
        self._require(isinstance(value, int) and 3 <= value <= 30, "sensitivity", value,
                      "whole number of frames averaged, 3 to 30")
        return FORMAT.encode(SET_SENSITIVITY, struct.pack("<I", value))

    def reset(self) -> bytes:
        return FORMAT.encode(RESET)
