"""Reading the modem's health answers, the +CMS/+CME ERROR tables, and putting replies' parts together."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.modem.errors import (
    CommandFailed,
    NotRegistered,
    SimLocked,
    SimMissing,
    SmsRejected,
    WeakSignal,
    from_reply,
)
from drivers.modem.inbox import GAP, Inbox, IncomingSms
from drivers.modem.pdu import decode_deliver, encode_deliver
from drivers.modem.status import assess, parse_cops, parse_cpin, parse_csq, parse_reg


@pytest.mark.parametrize(("value", "expected"), [
    ("31,99", (-51, 4)), ("24,99", (-65, 4)), ("15,0", (-83, 3)), ("10,0", (-93, 2)), ("9,0", (-95, 1)),
    ("1,99", (-111, 0)), ("99,99", (None, 0)), ("junk", (None, 0)),
])
def test_csq(value: str, expected: tuple[int | None, int]) -> None:
    assert parse_csq(value) == expected


@pytest.mark.parametrize(("value", "stat"), [
    ("0,1", 1), ("0,5", 5), ("2,1,\"1A2B\",\"01C3D4E5\",7", 1), ("0,2", 2), ("0", None), ("x,y", None),
])
def test_reg(value: str, stat: int | None) -> None:
    assert parse_reg(value) == stat


def test_cops() -> None:
    assert parse_cops('0,0,"CHINA MOBILE",7') == ("CHINA MOBILE", "LTE")
    assert parse_cops('0,2,"46001",0') == ("46001", "GSM")
    assert parse_cops("0") == (None, None)


@pytest.mark.parametrize(("value", "kind"), [
    ("READY", None), ("SIM PIN", SimLocked), ("SIM PUK", SimLocked), ("NOT INSERTED", SimMissing),
])
def test_cpin(value: str, kind: type | None) -> None:
    sim, trouble = parse_cpin(value)
    assert sim == value and (trouble is None if kind is None else isinstance(trouble, kind))


def _status(reg: list[int | None], rssi_dbm: int | None = -65, bars: int = 4, sim: str = "READY"):  # type: ignore[no-untyped-def]
    return assess(sim=sim, sim_trouble=parse_cpin(sim)[1], reg=reg, signal_dbm=rssi_dbm, bars=bars,
                  operator="CHINA MOBILE", technology="LTE", model="EC25")


def test_registered_on_4g_only_is_enough() -> None:
    """China's 2G/3G sunset: CS registration 0, EPS registration 1, and SMS still goes."""
    s = _status([0, 1])
    assert (s.state, s.ok, s.registration) == ("ready", True, "home")


def test_not_registered_names_the_fix() -> None:
    s = _status([2, 2])
    assert s.state == "not_registered" and isinstance(s.trouble, NotRegistered) and not s.ok
    assert "antenna" in s.trouble.fix
    assert "operator" in _status([3, None]).trouble.fix  # type: ignore[union-attr]  # denied


def test_sim_comes_before_network_and_signal() -> None:
    assert _status([0, 0], sim="NOT INSERTED", rssi_dbm=None, bars=0).state == "no_sim"


def test_weak_signal_still_sends() -> None:
    s = _status([1, 1], rssi_dbm=-103, bars=1)
    assert s.state == "weak_signal" and s.ok and isinstance(s.trouble, WeakSignal)
    assert _status([1, 1], rssi_dbm=None, bars=0).state == "ready"  # unknown is not called weak


@pytest.mark.parametrize(("kind", "code", "cls", "words"), [
    ("+CMS ERROR", 330, SmsRejected, "SMS centre"),
    ("+CMS ERROR", 500, SmsRejected, "signal"),
    ("+CMS ERROR", 310, SimMissing, "insert a SIM"),
    ("+CMS ERROR", 311, SimLocked, "modem.pin"),
    ("+CMS ERROR", 331, NotRegistered, "antenna"),
    ("+CMS ERROR", 8, SmsRejected, "operator"),
    ("+CME ERROR", 10, SimMissing, "insert a SIM"),
    ("+CME ERROR", 16, SimLocked, "three tries"),
    ("ERROR", None, CommandFailed, "developers"),
])
def test_errors_carry_meaning_and_fix(kind: str, code: int | None, cls: type, words: str) -> None:
    e = from_reply(kind, code, str(code or ""), what="SMS to +8613800138000")
    assert type(e) is cls and words in e.fix
    assert str(code or "") in e.problem and "+8613800138000" in e.problem


def test_unknown_cms_code_is_reported_by_number() -> None:
    e = from_reply("+CMS ERROR", 777, "777", what="SMS", sent=(4,))
    assert isinstance(e, SmsRejected) and e.cms == 777 and e.sent == (4,) and "777" in e.problem


WHEN = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
LONG = "我是王建国，已经出发，大约十分钟到。" * 8


def _parts(text: str, reference: int = 5) -> list:  # type: ignore[type-arg]
    return [decode_deliver(p) for p in encode_deliver("13900139000", text, sent_at=WHEN, reference=reference)]


def test_single_message_passes_straight_through() -> None:
    assert Inbox().add(3, _parts("到")[0], 0.0) == IncomingSms("+8613900139000", "到", WHEN.timestamp(), (3,))


def test_parts_in_any_order_make_one_message() -> None:
    parts = _parts(LONG)
    assert len(parts) == 3
    inbox = Inbox()
    assert inbox.add(7, parts[2], 0.0) is None
    assert inbox.add(2, parts[0], 1.0) is None
    assert inbox.holding == {7, 2}
    assert inbox.add(9, parts[2], 1.5) is None  # stored twice by the network: read once, both deleted
    sms = inbox.add(4, parts[1], 2.0)
    assert sms == IncomingSms("+8613900139000", LONG, WHEN.timestamp(), (2, 4, 7, 9), True)
    assert not inbox.holding


def test_missing_part_is_handed_on_incomplete_after_the_wait() -> None:
    parts = _parts(LONG)
    inbox = Inbox(wait_s=60.0)
    inbox.add(0, parts[0], 0.0)
    inbox.add(1, parts[2], 10.0)
    assert inbox.overdue(59.9) == []
    [sms] = inbox.overdue(60.0)
    assert sms.text == parts[0].text + GAP + parts[2].text and not sms.complete and sms.indexes == (0, 1)


def test_two_senders_with_the_same_reference_are_kept_apart() -> None:
    inbox = Inbox()
    a = _parts(LONG, reference=9)
    b = [decode_deliver(p) for p in encode_deliver("13700137000", LONG, sent_at=WHEN, reference=9)]
    assert inbox.add(0, a[0], 0) is None and inbox.add(1, b[0], 0) is None
    assert inbox.add(2, a[1], 0) is None
    done = inbox.add(3, a[2], 0)
    assert done is not None and done.sender == "+8613900139000" and done.indexes == (0, 2, 3)
