"""The voice packet: one 20 ms Opus frame with its call, sequence number and capture time.

Binary, not JSON: 50 packets a second each way over a 4G uplink, where a JSON envelope
would cost more than the 50-byte Opus frame it carries. Big-endian layout (9 bytes + call id):

    0     version   0xA1: high nibble the magic 0xA ("Anxin voice"), low nibble version 1
    1     flags     bit 0 MARKER: first packet after the sender paused (call start, unmute);
                    bit 1 HEX: the call id is lowercase hex, carried as its bytes (the
                    station's 32-digit ids take 16 bytes, not 32); other bits must be 0
    2     n         length of the call id field in bytes, 1..64 (1..32 with HEX)
    3     call id   n bytes: UTF-8 without control characters, or with HEX the id's bytes
    3+n   seq       u16, +1 per packet sent, wraps (RTP style: gaps mean loss)
    5+n   ts_ms     u32, sender's monotonic capture time of the frame in ms, wraps after
                    49.7 days (only differences are used)
    9+n   payload   the Opus packet, 1..1275 bytes (RFC 6716's largest frame)

Each call id has one encoding (hex ids always go packed), so what decodes encodes back to the
same bytes.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

VERSION = 0xA1
MARKER = 0x01
HEX = 0x02
_HEX_ID = re.compile(r"(?:[0-9a-f]{2}){1,32}")
MAX_CALL = 64
MAX_PAYLOAD = 1275
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32
_SEQ_TS = struct.Struct(">HI")
HEADER = 3 + _SEQ_TS.size  # bytes besides the call id and the payload
MAX_PACKET = HEADER + MAX_CALL + MAX_PAYLOAD


class VoiceError(ValueError):
    """A voice packet or frame that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class VoicePacket:
    call: str
    seq: int  # 0..65535, wraps
    ts_ms: int  # 0..2**32-1, wraps
    payload: bytes
    marker: bool = False  # first packet after a pause: the receiver rebuffers instead of concealing


def _call_bytes(call: str) -> tuple[bytes, int]:
    """The call id field and its flag."""
    if _HEX_ID.fullmatch(call):
        return bytes.fromhex(call), HEX
    try:
        raw = call.encode("utf-8")
    except UnicodeEncodeError:
        raise VoiceError(f"bad call id {call!r}: not encodable as UTF-8") from None
    if not 1 <= len(raw) <= MAX_CALL:
        raise VoiceError(f"bad call id: {len(raw)} bytes, must be 1..{MAX_CALL}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in call):
        raise VoiceError(f"bad call id {call!r}: control characters")
    return raw, 0


def encode_packet(p: VoicePacket) -> bytes:
    """The packet's bytes; raises VoiceError for a field out of range."""
    call, hex_flag = _call_bytes(p.call)
    if not 0 <= p.seq < SEQ_MOD:
        raise VoiceError(f"seq {p.seq} out of range 0..{SEQ_MOD - 1}")
    if not 0 <= p.ts_ms < TS_MOD:
        raise VoiceError(f"ts_ms {p.ts_ms} out of range 0..{TS_MOD - 1}")
    if not 1 <= len(p.payload) <= MAX_PAYLOAD:
        raise VoiceError(f"payload of {len(p.payload)} bytes, must be 1..{MAX_PAYLOAD}")
    return b"".join((bytes((VERSION, (MARKER if p.marker else 0) | hex_flag, len(call))), call,
                     _SEQ_TS.pack(p.seq, p.ts_ms), p.payload))


def decode_packet(data: bytes) -> VoicePacket:
    """Parse one packet; anything malformed raises VoiceError naming the fault."""
    if len(data) > MAX_PACKET:
        raise VoiceError(f"oversize packet: {len(data)} bytes > {MAX_PACKET}")
    if len(data) < HEADER + 2:
        raise VoiceError(f"truncated packet: {len(data)} bytes")
    if data[0] != VERSION:
        raise VoiceError(f"bad version byte 0x{data[0]:02x}, expected 0x{VERSION:02x}")
    flags, n = data[1], data[2]
    if flags & ~(MARKER | HEX):
        raise VoiceError(f"unknown flags 0x{flags:02x}")
    if not 1 <= n <= (MAX_CALL // 2 if flags & HEX else MAX_CALL):
        raise VoiceError(f"bad call id length {n}")
    end = 3 + n
    if len(data) < end + _SEQ_TS.size + 1:
        raise VoiceError(f"truncated packet: {len(data)} bytes with a {n}-byte call id")
    if flags & HEX:
        call = data[3:end].hex()
    else:
        try:
            call = data[3:end].decode("utf-8")
        except UnicodeDecodeError:
            raise VoiceError("bad call id: not UTF-8") from None
        if _call_bytes(call)[1]:
            raise VoiceError(f"call id {call!r} sent unpacked: hex ids go with the HEX flag")
    seq, ts_ms = _SEQ_TS.unpack_from(data, end)
    payload = bytes(data[end + _SEQ_TS.size:])
    if len(payload) > MAX_PAYLOAD:
        raise VoiceError(f"oversize payload: {len(payload)} bytes > {MAX_PAYLOAD}")
    return VoicePacket(call, seq, ts_ms, payload, bool(flags & MARKER))
