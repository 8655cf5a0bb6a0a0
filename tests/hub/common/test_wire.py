"""The wire format: round trips, and every kind of bad input refused with a reason."""

from __future__ import annotations

import json
import re

import pytest

from hub.common import wire
from hub.common.events import AlarmState, Event


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
    from hub.common.events import ALARM_TYPES

    keys = [f"kind_{k}" for k in ALARM_TYPES] + [f"out_{o}" for o in OUTCOMES]
    missing = [k for k in keys if k not in STRINGS or not all(STRINGS[k])]
    assert missing == []


STATUS = '{"v":1,"type":"status","hub":"h1","online":true,"ts":%s}'
EVENT = '{"v":1,"type":"event","hub":"h1","id":"x","kind":"k","source":"s","ts":1,"data":%s}'


@pytest.mark.parametrize("payload, reason", [
    (STATUS % "NaN", "ts: Input should be a finite number"),
    (STATUS % "Infinity", "ts: Input should be a finite number"),
    (STATUS % "1e999", "ts: Input should be a finite number"),  # the JSON parser makes it inf
    (STATUS % "-1", "ts: Input should be greater than or equal to 0"),
    (STATUS % (wire.MAX_TS + 1), "ts: Input should be less than or equal to 4102444800"),
    (json.dumps({"v": 1, "type": "heartbeat", "hub": "h1", "ts": 1, "seq": 1, "pending": 2**64}),
     "pending: Input should be less than or equal to 9007199254740992"),  # SQLite holds 8 bytes
    (json.dumps({"v": 1, "type": "event", "hub": "h1", "id": "x", "kind": "k", "source": "s", "ts": 1,
                 "alarm": {"kind": "x" * 65, "priority": 1, "contact_id": 100}}),
     "alarm.kind: String should have at most 64 characters"),
    (EVENT % '{"a":{"b":{"c":{}}}}', "data: a.b.c: objects and lists nested more than 3 deep"),
    (EVENT % '{"a":[[[]]]}', "data: a.0.0: objects and lists nested more than 3 deep"),
    (EVENT % json.dumps({f"k{i}": i for i in range(33)}), "data: more than 32 items"),
    (EVENT % json.dumps({"a": list(range(33))}), "data: a: more than 32 items"),
    (EVENT % json.dumps({"k" * 65: 1}), "data: a key must have 1 to 64 characters"),
    (EVENT % json.dumps({"location": "x" * 2001}), "data: location: text longer than 2000 characters"),
    (EVENT % '{"a":[1,NaN]}', "data: a.1: numbers must be finite"),
    (EVENT % f'{{"a":{2**60}}}', "data: a: integer beyond ±9007199254740992"),
    ('{"type":"ev\\nent"}', "Input tag 'ev\\nent' found"),  # a newline cannot split the log line
])
def test_values_past_the_documented_bounds_are_refused(payload: str, reason: str) -> None:
    with pytest.raises(wire.WireError) as e:
        wire.decode(payload.encode())
    assert reason in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("ts", [0.0, 1.0, wire.MAX_TS])
def test_times_of_a_last_will_and_an_unset_clock_are_accepted(ts: float) -> None:
    """ts 0 is the last will's; a hub without a real-time clock counts from 1970 until it has
    the network, and its alarms must still get through."""
    assert wire.decode((STATUS % ts).encode()) == wire.Status(hub="h1", online=True, ts=ts)


def test_a_hub_id_with_a_trailing_newline_is_no_hub_id() -> None:
    with pytest.raises(wire.WireError, match="not a hub topic"):
        wire.parse_hub_topic("anxin/v1/hub/h1\n/event")
    with pytest.raises(wire.WireError, match="bad hub id"):
        wire.hub_topic("h1\n", "event")


def test_a_long_reason_is_cut_rather_than_the_alarm_lost() -> None:
    """Reasons are exception messages of any length; the hub's own alarm must still encode."""
    ev = Event(kind="hub.store_damaged", source="hub", ts=1000.0, alarm="hub_fault",
               data={"reason": "x" * 5000, "rule": "hub_fault"})
    msg = wire.decode_as(wire.encode(wire.event_msg("h001", ev)), wire.EventMsg)
    assert msg.alarm and msg.alarm.kind == "hub_fault"
    assert msg.data == {"reason": "x" * wire.MAX_DATA_TEXT, "rule": "hub_fault"}


REQUEST = {"v": 1, "type": "request", "req": "r1", "console": "console-0123456789ab",
           "op": "claim", "ts": 1.0, "alarm": "a1"}


# One request per op as consoles of wire v1 send them (the flat Request before issue 18).
V1_REQUESTS = {
    wire.Login: {"op": "login", "user": "wang.li", "password": "pw"},
    wire.Logout: {"op": "logout", "token": "t"},
    wire.Claim: {"op": "claim", "alarm": "a1", "token": "t"},
    wire.Resolve: {"op": "resolve", "alarm": "a1", "outcome": "false_alarm", "notes": "n",
                   "token": "t"},
    wire.CallStart: {"op": "call_start", "hub": "h001", "visit": "v1", "token": "t"},
    wire.CallEnd: {"op": "call_end", "call": "c1", "token": "t"},
    wire.AlarmStep: {"op": "alarm_step", "alarm": "a1", "step": "assess", "notes": "n",
                     "token": "t"},
    wire.AlarmNote: {"op": "alarm_note", "alarm": "a1", "notes": "n", "written": 0.5, "token": "t"},
    wire.ElderSave: {"op": "elder_save", "hub": "h001", "record": {"name": "张"}, "token": "t"},
    wire.ElderOverride: {"op": "elder_override", "hub": "h001", "category": "key", "notes": "n",
                         "token": "t"},
    wire.VisitSave: {"op": "visit_save", "hub": "h001", "record": {"day": "2024-06-01"},
                     "token": "t"},
    wire.FollowupClose: {"op": "followup_close", "followup": "f1", "notes": "n", "token": "t"},
}


@pytest.mark.parametrize("model", V1_REQUESTS, ids=lambda m: m.__name__)
def test_each_op_has_its_model_and_keeps_its_v1_json(model: type[wire.RequestBase]) -> None:
    sent = {**REQUEST, "alarm": None, **V1_REQUESTS[model]}
    sent = {k: v for k, v in sent.items() if v is not None}
    req = wire.decode_request(json.dumps(sent).encode())
    assert type(req) is model
    assert json.loads(wire.encode(req)) == sent
    assert type(wire.request(sent)) is model  # as the console builds it


@pytest.mark.parametrize("op, fields, error", [
    ("claim", {}, "request.claim.alarm: Field required"),
    ("login", {"user": "zhang"}, "request.login.password: Field required"),
    ("call_start", {"alarm": "a1", "hub": "h001"}, "needs exactly one of alarm and hub"),
    ("alarm_note", {"alarm": "a1"}, "request.alarm_note.notes: Field required"),
    ("fly", {}, "request: Input tag 'fly' found using 'op' does not match"),
    (None, {}, "request: Unable to extract tag using discriminator 'op'")])
def test_a_request_without_what_its_op_needs_is_refused(op: str | None, fields: dict[str, str],
                                                         error: str) -> None:
    sent = {**{k: v for k, v in REQUEST.items() if k != "alarm"}, "op": op, **fields}
    with pytest.raises(wire.WireError, match=re.escape(error)):
        wire.decode_request(json.dumps({k: v for k, v in sent.items() if v is not None}).encode())


def test_only_a_request_decodes_as_one() -> None:
    with pytest.raises(wire.WireError, match="expected a request, got type 'changed'"):
        wire.decode_request(wire.encode(wire.Changed(what="home", id="h001")))


@pytest.mark.parametrize("console", ["desk\n1", "desk\x7f", "desk+", "desk#", "desk/1", "$SYS",
                                     "desk 1", "desk\x00", "桌1", "-desk", "d" * 65])
def test_a_console_id_that_is_no_topic_safe_name_is_refused(console: str) -> None:
    """The console id names the reply topic: Mosquitto drops a client that publishes on a topic
    with a control character, and + / # / "/" would be wildcards or levels."""
    with pytest.raises(wire.WireError, match="console: String should match pattern"):
        wire.decode(json.dumps({**REQUEST, "console": console}).encode())
    with pytest.raises(wire.WireError, match="bad console id"):
        wire.reply_topic(console)
    with pytest.raises(wire.WireError, match="bad console id"):
        wire.request_topic(console)
    with pytest.raises(wire.WireError, match="bad console id"):
        wire.request_console(wire.REQUEST_PREFIX + console)


@pytest.mark.parametrize("console", ["console-0123456789ab", "console:desk1", "desk-zhang", "c"])
def test_console_ids_we_make_name_their_reply_topics(console: str) -> None:
    """Plain consoles are console-<12 hex>; under TLS a console is its certificate's name."""
    assert wire.decode_request(json.dumps({**REQUEST, "console": console}).encode()).console \
        == console
    assert wire.reply_topic(console) == f"anxin/v1/station/reply/{console}"
    assert wire.request_topic(console) == f"anxin/v1/station/request/{console}"
    assert wire.request_console(wire.request_topic(console)) == console


def test_only_a_request_topic_names_a_console() -> None:
    for topic in ("anxin/v1/station/request", "anxin/v1/station/reply/c", "anxin/v1/hub/h1/event"):
        assert wire.request_console(topic) is None


@pytest.mark.parametrize("field, value", [
    ("kind", "button.press\n12:00:00.000 INFO forged"), ("id", "x\x7f"), ("source", "bed\x1b[2J"),
    ("ref", "a\u202eb"), ("kind", "button\u2028press"), ("source", "bed\x85")])
def test_identifiers_with_control_or_format_characters_are_refused(field: str, value: str) -> None:
    event = {"v": 1, "type": "event", "hub": "h1", "id": "x", "kind": "k", "source": "s", "ts": 1}
    with pytest.raises(wire.WireError, match=f"{field}: control or format character"):
        wire.decode(json.dumps({**event, field: value}).encode())


@pytest.mark.parametrize("op, field", [("claim", "alarm"), ("login", "user"),
                                       ("alarm_step", "step"), ("resolve", "outcome")])
def test_request_identifiers_with_control_characters_are_refused(op: str, field: str) -> None:
    req = {**REQUEST, "op": op, "alarm": "a1", "user": "zhang", "password": "p", "step": "s",
           field: "x\ny"}
    with pytest.raises(wire.WireError, match=f"{field}: control or format character"):
        wire.decode(json.dumps(req).encode())


def test_free_text_keeps_its_lines_and_shows_other_control_characters_escaped() -> None:
    notes = "第一行\r\n第二行\r第三行\t缩进\x1b[31m红\x7f\u202e反\u3000全角空格"
    req = wire.decode_as(json.dumps({**REQUEST, "op": "alarm_note", "notes": notes}).encode(),
                         wire.AlarmNote)
    assert req.notes == "第一行\n第二行\n第三行\t缩进\\x1b[31m红\\x7f\\u202e反\u3000全角空格"
    event = wire.decode_as((EVENT % json.dumps(
        {"location": "卧室\x1b[2J", "nested": {"list": ["a\x00b"]}})).encode(), wire.EventMsg)
    assert event.data == {"location": "卧室\\x1b[2J", "nested": {"list": ["a\\x00b"]}}
    with pytest.raises(wire.WireError, match=r"data: a key: control or format character '\\n'"):
        wire.decode((EVENT % json.dumps({"a key\n": 1})).encode())
    with pytest.raises(wire.WireError, match="notes: text longer than 2000 characters once"):
        wire.decode(json.dumps({**REQUEST, "op": "alarm_note", "notes": "\x1b" * 1000}).encode())


def test_a_hubs_reason_full_of_control_characters_still_goes_out() -> None:
    ev = Event(kind="hub.fault", source="hub", ts=1000.0, alarm="hub_fault",
               data={"reason": "line\nbreak\x1b" * 1000})
    msg = wire.decode_as(wire.encode(wire.event_msg("h001", ev)), wire.EventMsg)
    assert msg.alarm and len(msg.data["reason"]) == wire.MAX_DATA_TEXT
    assert msg.data["reason"].startswith("line\nbreak\\x1bline")
