"""SMS PDUs: published vectors, hand-annotated UCS-2 vectors, part boundaries, round trips, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modem.pdu import (
    MAX_PARTS,
    Concat,
    InvalidNumber,
    MessageTooLong,
    PduError,
    SubmitPdu,
    decode_deliver,
    decode_submit,
    encode_deliver,
    encode_submit,
    normalise_number,
)

CHINA = dt.timezone(dt.timedelta(hours=8))
MOBILE = "+8613800138000"


def test_published_gsm7_submit_vector() -> None:
    """The classic SMS-SUBMIT example (dreamfabric.com 'SMS PDU format', quoted widely): 'hellohello'
    to +46708251358, relative validity 0xAA (4 days), no SMSC."""
    assert encode_submit("+46708251358", "hellohello", validity_s=4 * 86400) == [
        SubmitPdu("0011000B916407281553F80000AA0AE8329BFD4697D9EC37", 23)]


def test_published_gsm7_deliver_vector() -> None:
    """The matching SMS-DELIVER example: SMSC +27381000015, sender 27838890001 (a national
    subscriber number, TOA 0xC8), 'hellohello'."""
    sms = decode_deliver("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    assert (sms.sender, sms.text, sms.concat) == ("27838890001", "hellohello", None)


def test_chinese_submit_byte_by_byte() -> None:
    [pdu] = encode_submit("13800138000", "你好，世界")
    assert pdu.hex == ("00"  # no SMSC address: the SIM's own
                       "11"  # SMS-SUBMIT, TP-VPF relative
                       "00"  # TP-MR: the modem assigns it
                       "0D91683108108300F0"  # 13 digits, international, 8613800138000 in swapped BCD
                       "00"  # TP-PID
                       "08"  # TP-DCS UCS-2
                       "A7"  # TP-VP 167: 24 hours
                       "0A"  # 10 octets of text
                       "4F60597DFF0C4E16754C")  # 你 U+4F60 好 U+597D ， U+FF0C 世 U+4E16 界 U+754C
    assert pdu.tpdu_length == 25


def test_english_text_goes_gsm7_and_round_trips() -> None:
    text = "Wang Xiuying pressed the call button at home. Reply 1 if you are coming."
    [pdu] = encode_submit("13800138000", text)
    assert pdu.hex[20:22] == "00"  # TP-DCS: GSM 7-bit
    assert decode_submit(pdu.hex).text == text


@pytest.mark.parametrize(("text", "parts"), [
    ("测" * 70, 1), ("测" * 71, 2), ("测" * 134, 2), ("测" * 135, 3),  # UCS-2: 70 alone, 67 per part
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),  # GSM-7: 160 alone, 153 per part
    ("€" * 80, 1), ("€" * 81, 2),  # an extension character costs two septets
])
def test_part_boundaries(text: str, parts: int) -> None:
    pdus = encode_submit("13800138000", text, reference=42)
    assert len(pdus) == parts
    decoded = [decode_submit(p.hex) for p in pdus]
    assert "".join(d.text for d in decoded) == text
    if parts > 1:
        assert [d.concat for d in decoded] == [Concat(42, parts, n) for n in range(1, parts + 1)]
        assert all("050003" + "2A" in p.hex for p in pdus)  # UDH: IE 00, 8-bit reference 42
    assert all(p.tpdu_length <= 164 for p in pdus)  # 140 octets of user data at most, plus headers


def test_concatenated_gsm7_part_is_full() -> None:
    first = encode_submit("13800138000", "a" * 200, reference=0x2A)[0]
    assert first.hex[2:4] == "51"  # SMS-SUBMIT with TP-UDHI
    assert first.hex[30:32] == "A0"  # TP-UDL: 160 septets = 7 for the UDH and its fill bit + 153
    assert first.hex[32:44] == "0500032A0201"  # UDH: IE 00, reference 0x2A, part 1 of 2
    assert first.hex[44:46] == "C2"  # 'a' (0x61) shifted past the fill bit


@pytest.mark.parametrize("text", ["€" * 7 + "a", "[x]" * 5, "€" * 81])
def test_gsm7_extension_characters_leave_no_padding_behind(text: str) -> None:
    """15 septets leave 7 spare bits: smspdudecoder on its own reads them as a trailing '@'."""
    assert "".join(decode_submit(p.hex).text for p in encode_submit("13800138000", text)) == text
    when = dt.datetime(2026, 5, 1, tzinfo=CHINA)
    assert "".join(decode_deliver(p).text for p in encode_deliver("10086", text, sent_at=when)) == text


def test_a_surrogate_pair_is_never_split() -> None:
    text = "一" * 66 + "𠮷" + "二" * 10  # 𠮷 (CJK Extension B, found in names) takes two UTF-16 units
    pdus = encode_submit("13800138000", text)
    parts = [decode_submit(p.hex).text for p in pdus]
    assert parts == ["一" * 66, "𠮷" + "二" * 10]


def test_a_gsm7_escape_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = [decode_submit(p.hex).text for p in encode_submit("13800138000", text)]
    assert parts == ["a" * 152, "€" + "b" * 10]


@given(st.text(min_size=1, max_size=400))
def test_any_text_round_trips(text: str) -> None:
    try:
        pdus = encode_submit("13800138000", text)
    except MessageTooLong:
        return
    decoded = [decode_submit(p.hex) for p in pdus]
    assert "".join(d.text for d in decoded) == text
    assert all(d.to == MOBILE for d in decoded)


def test_deliver_round_trip_with_time_zone() -> None:
    when = dt.datetime(2026, 5, 1, 8, 30, 15, tzinfo=CHINA)
    [pdu] = encode_deliver("13900139000", "收到", sent_at=when)
    assert pdu.startswith("0891683108100005F0" + "04")  # SMSC +8613800100500, SMS-DELIVER
    sms = decode_deliver(pdu)
    assert (sms.sender, sms.text, sms.sent_at) == ("+8613900139000", "收到", when.timestamp())


def test_concatenated_deliver_parts() -> None:
    text = "我是王建国，马上到。" * 10
    pdus = encode_deliver("13900139000", text, sent_at=dt.datetime(2026, 5, 1, tzinfo=CHINA), reference=9)
    parts = [decode_deliver(p) for p in pdus]
    assert [p.concat for p in parts] == [Concat(9, 2, 1), Concat(9, 2, 2)]
    assert "".join(p.text for p in parts) == text


@pytest.mark.parametrize(("given_", "expected"), [
    ("13800138000", MOBILE), ("+8613800138000", MOBILE), ("138 0013 8000", MOBILE), ("138-0013-8000", MOBILE),
    ("+852 9123 4567", "+85291234567"), ("10086", "10086"), ("0571-87654321", "057187654321"),
])
def test_numbers(given_: str, expected: str) -> None:
    assert normalise_number(given_) == expected


@pytest.mark.parametrize("bad", ["", "abc", "12", "+0123", "1380013800", "138001380001", "13800138000x"])
def test_bad_numbers(bad: str) -> None:
    with pytest.raises(InvalidNumber):
        encode_submit(bad, "hi")


def test_service_number_goes_with_unknown_type() -> None:
    assert encode_submit("10086", "CXYE")[0].hex.startswith("0011000581" + "0180F6")


def test_too_long_and_empty() -> None:
    with pytest.raises(MessageTooLong):
        encode_submit("13800138000", "测" * (67 * MAX_PARTS + 1))
    assert len(encode_submit("13800138000", "测" * (67 * MAX_PARTS))) == MAX_PARTS
    with pytest.raises(ValueError, match="some text"):
        encode_submit("13800138000", "")
    with pytest.raises(MessageTooLong):
        encode_submit("13800138000", "a" * 1_000_000)


@pytest.mark.parametrize("pdu", [
    "zz",  # not hex
    "0791",  # truncated in the SMSC address
    "07917283010010F5040BC87238880900F1",  # truncated after the sender
    "0011000B916407281553F80000AA0AE8329BFD4697D9EC37",  # an SMS-SUBMIT, not a DELIVER
    "0891683108100005F0040D91683109109300F0000862501080030023" + "0A4F60",  # UCS-2 text cut short
    "0891683108100005F0040D91683109109300F00004625010800300230301FF02",  # 8-bit data, not text
])
def test_undecodable_deliver_is_one_error(pdu: str) -> None:
    with pytest.raises(PduError):
        decode_deliver(pdu)
