"""Family T, "TinyFrame": Seeed MR60FDA2 and the Hi-Link LD6002 series.

Frame layout (hardware.md, as implemented by ESPHome's seeed_mr60fda2 and Seeed's Arduino
library), multi-byte header fields big-endian, DATA values little-endian::

    offset 0        SOF 0x01
           1..2     ID u16 (0 in our commands; ignored on receipt)
           3..4     LEN u16, bytes of DATA
           5..6     TYPE u16
           7        HEAD_CKSUM = ~XOR(bytes 0..6) & 0xFF
           8..      DATA[LEN]
           8+LEN    DATA_CKSUM = ~XOR(DATA) & 0xFF      (absent when LEN == 0)
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from functools import reduce
from operator import xor

from drivers.radar.codec import MAX_DATA_LEN, Commands, Row, flag
from drivers.radar.readings import CommandReply, Fall, Parameters, Presence, Reading, ReplyTo, Vitals

# TYPE words (hardware.md). Not decoded, left to Unknown because their layouts are unverified:
# 0x0E0E height upload, 0x0A13 breathing/heart phases, 0x0A16 target distance.
FALL = 0x0E02  # u8: 0 normal, 1 fall; pushed by the module
SET_INSTALL_HEIGHT = 0x0E04  # f32 m; reply: u8 1 = accepted
PARAMETERS = 0x0E06  # empty query; reply: see _parameters
SET_FALL_THRESHOLD = 0x0E08  # f32 m; reply: u8
SET_SENSITIVITY = 0x0E0A  # u32 frames averaged, 3..30; reply: u8
SET_ALARM_AREA = 0x0E0C  # 4 x f32 m; reply: u8
PRESENCE = 0x0F09  # u8: 0 nobody, 1 someone
BREATH_RATE = 0x0A14  # f32 per minute (breathing/heart variants, e.g. MR60BHA2)
HEART_RATE = 0x0A15  # f32 per minute
RESET = 0x2110  # empty; factory settings. Reply payload undocumented: u8 assumed, like the setters

HEAD_LEN = 8  # SOF..HEAD_CKSUM


def checksum(data: bytes | bytearray) -> int:
    """~XOR of the covered bytes, & 0xFF."""
    return ~reduce(xor, data, 0) & 0xFF


class TinyFrame:
    sof = b"\x01"
    header_len = HEAD_LEN

    def frame_len(self, buf: bytearray, at: int) -> int | str:
        if checksum(buf[at:at + 7]) != buf[at + 7]:
            return "head_checksum"
        length = buf[at + 3] << 8 | buf[at + 4]
        if length > MAX_DATA_LEN:
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
    # 12..27 alarm area 4 x f32 m (x left, x right, z front, z back). ESPHome reads only the
    # first 12 bytes; Seeed's library reads all 28. Accept either.
    if len(p) < 12:
        return None
    floats = struct.unpack_from("<ff", p) + (struct.unpack_from("<4f", p, 12) if len(p) >= 28 else ())
    if not all(map(math.isfinite, floats)):
        return None
    height, threshold, *area = (round(v, 3) for v in floats)
    return Parameters(install_height_m=height, fall_threshold_m=threshold,
                      sensitivity=struct.unpack_from("<I", p, 8)[0],
                      alarm_area_m=(area[0], area[1], area[2], area[3]) if area else None)


def _rate(make: Callable[[float], Reading]) -> Row:
    def row(p: bytes) -> Reading | None:
        v = struct.unpack_from("<f", p)[0] if len(p) >= 4 else math.nan
        return make(round(v, 2)) if math.isfinite(v) else None
    return row


def _ack(command: ReplyTo) -> Row:
    return lambda p: CommandReply(command, p[0] != 0) if p else None


# TYPE -> row. A new reading is one row here plus a byte vector in tests/test_radar_codec.py.
TABLE: dict[int, Row] = {
    FALL: flag(Fall),
    PRESENCE: flag(Presence),
    PARAMETERS: _parameters,
    SET_INSTALL_HEIGHT: _ack("set_install_height"),
    SET_FALL_THRESHOLD: _ack("set_fall_threshold"),
    SET_SENSITIVITY: _ack("set_sensitivity"),
    SET_ALARM_AREA: _ack("set_alarm_area"),
    RESET: _ack("reset"),
    BREATH_RATE: _rate(lambda v: Vitals(breath_rate=v)),
    HEART_RATE: _rate(lambda v: Vitals(heart_rate=v)),
}


class TinyFrameCommands(Commands):
    """MR60FDA2 commands (LD6002: same TYPE words per hardware.md; unverified on Hi-Link firmware)."""

    def keepalive(self) -> bytes:
        return self.query_parameters()  # family T has no heartbeat; the parameter query is harmless

    def query_parameters(self) -> bytes:
        return FORMAT.encode(PARAMETERS)

    def set_install_height(self, metres: float) -> bytes:
        # Seeed's library: "1 to 5 m (not include 1.0 m)"
        self._require(1.0 < metres <= 5.0, "install height", metres, "above 1.0 m, at most 5.0 m")
        return FORMAT.encode(SET_INSTALL_HEIGHT, struct.pack("<f", metres))

    def set_fall_threshold(self, metres: float) -> bytes:
        # default 0.6 m; the bounds are a sanity check, not a vendor range (unverified)
        self._require(0.0 <= metres <= 1.5, "fall threshold", metres, "0.0 to 1.5 m")
        return FORMAT.encode(SET_FALL_THRESHOLD, struct.pack("<f", metres))

    def set_sensitivity(self, value: int) -> bytes:
        self._require(isinstance(value, int) and 3 <= value <= 30, "sensitivity", value,
                      "whole number of frames averaged, 3 to 30")
        return FORMAT.encode(SET_SENSITIVITY, struct.pack("<I", value))

    def reset(self) -> bytes:
        return FORMAT.encode(RESET)

