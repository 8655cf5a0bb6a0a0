"""The wire format: round trips, and every kind of bad input refused with a reason."""

from __future__ import annotations

import json

import pytest

from hub import wire
from hub.events import AlarmState, Event


def test_alarm_event_round_trip() -> None:
    ev = Event(kind="button.press", source="bedside", ts=1000.5, alarm="panic",
               data={"location": "卧室"})
    msg = wire.event_msg("h001", ev)
    back = wire.decode_as(wire.encode(msg), wire.EventMsg)
    assert back == msg
    assert back.alarm == wire.AlarmInfo(kind="panic", priority=1, contact_id=101)
    assert json.loads(wire.encode(msg))["v"] == wire.VERSION


@pytest.mark.parametrize("payload, reason", [
    (b"not json", "Invalid JSON"),
    (b"[]", "payload: Input should be an object"),
    (b'{"v":1,"type":"nonsense"}', "does not match any of the expected tags"),
    (b'{"v":2,"type":"ack","ids":["a"],"ts":1}', "v: Input should be 1"),
    (b'{"v":1,"type":"ack","ids":[],"ts":1}', "ids: List should have at least 1 item"),
    (b'{"v":1,"type":"status","hub":"Bad Hub","online":true,"ts":1}', "hub: String should match"),
    (b'{"v":1,"type":"event","hub":"h1","id":"x","kind":"k","source":"s"}', "ts: Field required"),
    (b'{"v":1,"type":"alarm","id":"x","state":"exploded","ts":1}', "state: Input should be"),
])
def test_bad_payloads_are_refused_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError, match=reason):
        wire.decode(payload)


def test_oversize_payload_is_refused_unread() -> None:
    with pytest.raises(wire.WireError, match="exceeds"):
        wire.decode(b"{" + b" " * wire.MAX_PAYLOAD + b"}")


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    msg = wire.decode(b'{"v":1,"type":"ack","ids":["a"],"ts":1,"added_in_v1_1":true}')
    assert msg == wire.Ack(ids=["a"], ts=1)


def test_wrong_message_type_for_topic() -> None:
    with pytest.raises(wire.WireError, match="expected a Ack message, got type 'alarm'"):
        wire.decode_as(wire.encode(wire.AlarmUpdate(id="x", state=AlarmState.CLAIMED, ts=1)),
                       wire.Ack)


def test_topics() -> None:
    assert wire.hub_topic("h001", "event") == "anxin/v1/hub/h001/event"
    assert wire.parse_hub_topic("anxin/v1/hub/h001/event") == ("h001", "event")
    for bad in ("anxin/v1/hub/H1/event", "anxin/v2/hub/h1/event", "anxin/v1/hub/h1", "x"):
        with pytest.raises(wire.WireError):
            wire.parse_hub_topic(bad)
    with pytest.raises(wire.WireError):
        wire.hub_topic("../evil", "event")


def test_every_alarm_kind_and_outcome_reads_in_both_languages() -> None:
    from console.tui.i18n import OUTCOMES, STRINGS
    from hub.events import ALARM_TYPES

    keys = [f"kind_{k}" for k in ALARM_TYPES] + [f"out_{o}" for o in OUTCOMES]
    missing = [k for k in keys if k not in STRINGS or not all(STRINGS[k])]
    assert missing == []
