"""SMS PDUs (3GPP TS 23.040): our SMS-SUBMIT encoder, the received SMS-DELIVER decoded by smspdudecoder.

Sending is the simple half and ours: GSM-7 when every character has a GSM 7-bit code (160 per
part), else UCS-2 (70 per part); a longer text goes as concatenated parts (an 8-bit reference
UDH, 153 / 67 per part). UCS-2 is written as UTF-16 (surrogate pairs), as phones do, so a rare
name character outside the BMP (CJK Extension B, e.g. 𠮷) or an emoji survives; a part never
ends inside a surrogate pair or a GSM-7 escape. Receiving is the hostile half: any phone or the
network may send any PDU, so it is decoded by a maintained library (smspdudecoder, which reads
UCS-2 as UTF-16 too) and any failure there becomes one :class:`PduError`; only GSM-7 text is
unpacked here, from the exact septet count (see _gsm7_text).

The SMS-DELIVER encoder is for the simulated modem, which plays what the network delivers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

from smspdudecoder.codecs import GSM  # type: ignore[import-untyped]  # ships no type information
from smspdudecoder.fields import SMSDeliver, SMSSubmit  # type: ignore[import-untyped]

GSM7_SINGLE = 160  # septets in one part (TS 23.040 §9.2.3.24: 140 octets of user data)
GSM7_PART = 153  # septets in a part after the 6-octet concatenation UDH and its fill bit
UCS2_SINGLE = 70  # UTF-16 code units in one part
UCS2_PART = 67  # ... after the UDH: (140 - 6) / 2
MAX_PARTS = 10  # a notification is a few lines: more parts than this is a caller's mistake
DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
TOA_INTERNATIONAL = 0x91  # type of number international, ISDN numbering plan (TS 23.040 §9.1.2.5)
TOA_UNKNOWN = 0x81  # type of number unknown: the network reads it as dialled (short codes, landlines)
VALIDITY_S = 24 * 3600  # TP-VP 167, the modems' own text-mode default (Quectel AT+CSMP=17,167,0,0)

_ESC = 0x1B
_MOBILE = re.compile(r"1[3-9]\d{9}")  # a mainland mobile number, without the country code
_INTERNATIONAL = re.compile(r"\+[1-9]\d{4,14}")  # E.164: up to 15 digits
_DIALLED = re.compile(r"\d{3,20}")  # service numbers (10086), landlines with area code (010…)


class PduError(ValueError):
    """A PDU that cannot be decoded (malformed, truncated, or a kind we do not read)."""


class InvalidNumber(ValueError):
    """The destination is not a phone number an SMS can be sent to."""


class MessageTooLong(ValueError):
    """The text needs more than MAX_PARTS parts."""


@dataclass(frozen=True, slots=True)
class SubmitPdu:
    """One part ready for ``AT+CMGS=<tpdu_length>``: the hex includes the empty SMSC octet,
    which the length does not count (TS 27.005 §3.5.1)."""

    hex: str
    tpdu_length: int


@dataclass(frozen=True, slots=True)
class Concat:
    """A part of a concatenated message (UDH IE 0x00 or 0x08)."""

    reference: int
    total: int
    number: int  # 1-based


@dataclass(frozen=True, slots=True)
class Deliver:
    """A received SMS (or one part of one)."""

    sender: str  # '+8613800138000', a service number, or an alphanumeric name
    text: str
    sent_at: float  # epoch seconds, the service centre's timestamp
    concat: Concat | None


@dataclass(frozen=True, slots=True)
class Submit:
    """A decoded SMS-SUBMIT (what the simulated modem records)."""

    to: str
    text: str
    concat: Concat | None


def normalise_number(number: str) -> str:
    """'+8613800138000' for a mainland mobile given with or without +86; other numbers as
    dialled; InvalidNumber (with the reason) for anything else."""
    n = number.replace(" ", "").replace("-", "")
    if _MOBILE.fullmatch(n):
        return "+86" + n
    if n.isdigit() and n.startswith("1") and len(n) >= 8:
        raise InvalidNumber(f"{number!r} looks like a mobile number with a digit missing or extra "
                            "(mainland mobiles have 11 digits)")
    if _INTERNATIONAL.fullmatch(n) or _DIALLED.fullmatch(n):
        return n
    raise InvalidNumber(f"{number!r} is not a phone number: give 11 digits for a mobile "
                        "(13800138000), +country code for abroad, or the digits of a service number")


def encode_submit(to: str, text: str, *, reference: int = 0, validity_s: int = VALIDITY_S) -> list[SubmitPdu]:
    """The SMS-SUBMIT parts for ``text`` to ``to``. ``reference`` (0..255) ties concatenated
    parts together and must differ between messages to the same phone; TP-MR is left 0 for
    the modem to assign (TS 27.005 §3.5.1)."""
    if not 0 <= reference <= 0xFF:
        raise ValueError(f"concatenation reference {reference} is not 0..255")
    if not text:
        raise ValueError("an SMS needs some text")
    if len(text) > MAX_PARTS * GSM7_PART:  # more than any encoding fits: refused before any work
        raise MessageTooLong(f"{len(text)} characters; at most {MAX_PARTS} SMS parts can be sent")
    address = _address(normalise_number(to))
    dcs, chunks = _chunks(text)
    if len(chunks) > MAX_PARTS:
        raise MessageTooLong(f"{len(text)} characters need {len(chunks)} SMS parts; at most {MAX_PARTS}")
    vp = _relative_validity(validity_s)
    out = []
    for i, chunk in enumerate(chunks, 1):
        udh = _concat_udh(reference, len(chunks), i) if len(chunks) > 1 else b""
        first = 0x01 | 0x10 | (0x40 if udh else 0)  # SMS-SUBMIT, relative TP-VP, TP-UDHI
        tpdu = bytes([first, 0x00]) + address + bytes([0x00, dcs, vp]) + _user_data(dcs, udh, chunk)
        out.append(SubmitPdu(("00" + tpdu.hex()).upper(), len(tpdu)))
    return out


def encode_deliver(sender: str, text: str, *, sent_at: dt.datetime, reference: int = 0,
                   smsc: str = "+8613800100500") -> list[str]:
    """SMS-DELIVER parts as the network hands them to a modem (hex, SMSC address included);
    ``sent_at`` must carry its time zone. For the simulated modem."""
    dcs, chunks = _chunks(text)
    sca = _address(normalise_number(smsc))[1:]  # the SMSC field counts octets, not digits
    sender_field = _address(normalise_number(sender))
    out = []
    for i, chunk in enumerate(chunks, 1):
        udh = _concat_udh(reference, len(chunks), i) if len(chunks) > 1 else b""
        first = 0x04 | (0x40 if udh else 0)  # SMS-DELIVER, TP-MMS (no more messages), TP-UDHI
        tpdu = (bytes([first]) + sender_field + bytes([0x00, dcs]) + _timestamp(sent_at)
                + _user_data(dcs, udh, chunk))
        out.append((bytes([len(sca)]) + sca + tpdu).hex().upper())
    return out


def decode_deliver(pdu: str) -> Deliver:
    """A received SMS-DELIVER PDU (hex, SMSC address included, as +CMGR/+CMGL print it)."""
    sms = _decode(SMSDeliver, pdu, "SMS-DELIVER", 0b00)
    sender = sms["sender"]["number"]
    if sms["sender"]["toa"]["ton"] == "international":
        sender = "+" + sender
    return Deliver(sender=sender, text=_text(sms, bytes.fromhex(pdu)), sent_at=sms["scts"].timestamp(),
                   concat=_concat(sms))


def decode_submit(pdu: str) -> Submit:
    """An SMS-SUBMIT PDU (hex, SMSC address included, as written after the ``> `` prompt)."""
    sms = _decode(SMSSubmit, pdu, "SMS-SUBMIT", 0b01)
    to = sms["recipient"]["number"]
    if sms["recipient"]["toa"]["ton"] == "international":
        to = "+" + to
    return Submit(to=to, text=_text(sms, bytes.fromhex(pdu)), concat=_concat(sms))


def _decode(kind: Any, pdu: str, name: str, mti: int) -> dict[str, Any]:
    try:
        raw = bytes.fromhex(pdu)
        first = raw[1 + raw[0]]  # the TPDU's first octet, after the SMSC field
    except (ValueError, IndexError) as e:
        raise PduError(f"not a PDU ({e}): {pdu[:80]!r}") from e
    if first & 0x03 != mti:
        raise PduError(f"not an {name} (TP-MTI {first & 0x03}): {pdu[:80]!r}")
    try:
        sms: dict[str, Any] = kind.decode(StringIO(pdu.upper()))
    except Exception as e:  # a third-party decoder on hostile input: whatever it raises is one error
        raise PduError(f"undecodable {name} ({type(e).__name__}: {e}): {pdu[:80]!r}") from e
    if "warning" in sms["user_data"]:
        raise PduError(f"{name} {sms['user_data']['warning']}: {pdu[:80]!r}")
    return sms


def _text(sms: dict[str, Any], raw: bytes) -> str:
    data = sms["user_data"]["data"]
    if not isinstance(data, str):
        raise PduError(f"an 8-bit data message ({len(data)} octets), not text")
    if sms["dcs"]["encoding"] == "gsm":
        return _gsm7_text(raw, bool(sms["header"]["udhi"]))
    return data


def _gsm7_text(raw: bytes, udhi: bool) -> str:
    """GSM-7 text unpacked from exactly TP-UDL septets. smspdudecoder slices its decoded text by
    the septet count, so an extension character (€ [ ] ~ ...) lets the padding septet through as a
    trailing '@' (and a UDH can shift the cut); the rest of its decoding is kept."""
    off = 1 + raw[0] + 1  # SMSC field, first octet
    if raw[1 + raw[0]] & 0x03 == 0b01:  # SMS-SUBMIT: TP-MR, then TP-VP after DCS by its format
        off += 1
        vp = {0b00: 0, 0b10: 1}.get((raw[1 + raw[0]] >> 3) & 0x03, 7)
    else:
        vp = 7  # SMS-DELIVER: TP-SCTS
    off += 2 + (raw[off] + 1) // 2 + 2 + vp  # address (length in semi-octets, TOA), PID, DCS
    udl, ud = raw[off], raw[off + 1:]
    header = 1 + ud[0] if udhi and ud else 0
    header_septets = (header * 8 + 6) // 7
    bits, start = int.from_bytes(ud, "little"), header_septets * 7
    septets = [(bits >> (start + 7 * i)) & 0x7F for i in range(max(0, udl - header_septets))]
    out, escaped = [], False
    for code in septets:
        if escaped:
            out.append(GSM.ALPHABET_EXT.get(code, " "))  # TS 23.038: an unknown escape reads as space
            escaped = False
        elif code == _ESC:
            escaped = True
        else:
            out.append(GSM.ALPHABET[code])
    return "".join(out)


def _concat(sms: dict[str, Any]) -> Concat | None:
    header = sms["user_data"].get("header") or {}
    for element in header.get("elements", ()):
        if element["iei"] in (0x00, 0x08):
            d = element["data"]
            if d["parts_count"] > 1 and 1 <= d["part_number"] <= d["parts_count"]:
                return Concat(d["reference"], d["parts_count"], d["part_number"])
    return None


def _chunks(text: str) -> tuple[int, Sequence[list[int] | bytes]]:
    """(TP-DCS, the user data of each part): GSM-7 septets if every character has one, else UTF-16."""
    septets = _gsm7(text)
    if septets is not None:
        return DCS_GSM7, _split_gsm7(septets)
    return DCS_UCS2, _split_ucs2(text.encode("utf-16-be"))


def _gsm7(text: str) -> list[int] | None:
    """The septets of ``text`` in the GSM 7-bit default alphabet and its extension table
    (TS 23.038 §6.2.1), or None if any character has no code there."""
    out = []
    for ch in text:
        code = GSM.ALPHABET.find(ch)
        if code >= 0 and code != _ESC:
            out.append(code)
        elif ch in GSM.ALPHABET_EXT_INV:
            out += [_ESC, GSM.ALPHABET_EXT_INV[ch]]
        else:
            return None
    return out


def _split_gsm7(septets: list[int]) -> list[list[int]]:
    if len(septets) <= GSM7_SINGLE:
        return [septets]
    parts, start = [], 0
    while start < len(septets):
        end = min(start + GSM7_PART, len(septets))
        if end < len(septets) and septets[end - 1] == _ESC:
            end -= 1  # never part an escape from the character it escapes (ESC is only ever a prefix)
        parts.append(septets[start:end])
        start = end
    return parts


def _split_ucs2(units: bytes) -> list[bytes]:
    if len(units) <= 2 * UCS2_SINGLE:
        return [units]
    parts, start = [], 0
    while start < len(units):
        end = min(start + 2 * UCS2_PART, len(units))
        if end < len(units) and 0xD8 <= units[end - 2] <= 0xDB:
            end -= 2  # never split a surrogate pair
        parts.append(units[start:end])
        start = end
    return parts


def _concat_udh(reference: int, total: int, number: int) -> bytes:
    """IE 0x00: concatenated short messages, 8-bit reference (TS 23.040 §9.2.3.24.1)."""
    return bytes([0x00, 0x03, reference, total, number])


def _user_data(dcs: int, udh: bytes, chunk: list[int] | bytes) -> bytes:
    """TP-UDL then TP-UD. GSM-7 counts septets, the header padded to a septet boundary
    with fill bits (TS 23.040 §9.2.3.24); UCS-2 counts octets."""
    header = bytes([len(udh)]) + udh if udh else b""
    if dcs == DCS_UCS2:
        assert isinstance(chunk, bytes)
        return bytes([len(header) + len(chunk)]) + header + chunk
    assert isinstance(chunk, list)
    header_septets = (len(header) * 8 + 6) // 7
    fill = header_septets * 7 - len(header) * 8
    packed = _pack_septets(chunk, fill)
    return bytes([header_septets + len(chunk)]) + header + packed


def _pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Septets packed least significant bit first (TS 23.038 §6.1.2.1.1), after ``fill_bits`` zeros."""
    bits = 0
    for i, s in enumerate(septets):
        bits |= s << (fill_bits + 7 * i)
    return bits.to_bytes((fill_bits + 7 * len(septets) + 7) // 8, "little")


def _address(number: str) -> bytes:
    """TP-DA / TP-OA: digit count, type of address, BCD digits in swapped nibbles, F-padded."""
    toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    digits = number.lstrip("+")
    return bytes([len(digits), toa]) + _semi_octets(digits)


def _semi_octets(digits: str) -> bytes:
    padded = digits + "F" * (len(digits) % 2)
    return bytes(int(padded[i + 1] + padded[i], 16) for i in range(0, len(padded), 2))


def _timestamp(t: dt.datetime) -> bytes:
    """TP-SCTS: yy mm dd hh mm ss and the zone in quarter hours, each in swapped semi-octets,
    the zone's sign in bit 3 (TS 23.040 §9.2.3.11)."""
    offset = t.utcoffset()
    if offset is None:
        raise ValueError("the service centre timestamp needs a time zone")
    quarters = round(offset.total_seconds() / 900)
    zone = _semi_octets(f"{abs(quarters):02d}")[0] | (0x08 if quarters < 0 else 0)
    return _semi_octets(t.strftime("%y%m%d%H%M%S")) + bytes([zone])


def _relative_validity(seconds: int) -> int:
    """TP-VP, relative format (TS 23.040 §9.2.3.12.1): the shortest period at least ``seconds``."""
    minutes = max(seconds, 300) / 60
    if minutes <= 720:
        return min(143, int(-(-minutes // 5)) - 1)
    if minutes <= 1440:
        return 143 + int(-(-(minutes - 720) // 30))
    days = -(-minutes // 1440)
    if days <= 30:
        return int(166 + days)
    return int(min(255, 192 + -(-days // 7)))
