"""The wire decoder under hostile input (hypothesis): it answers with a message or a WireError.

Whatever it accepts is within the documented bounds, so it encodes back to itself; every
message type survives encode -> decode; size is judged before parsing.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Annotated, Any, get_args, get_origin

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.common import wire
from hub.common.events import AlarmState

props = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# identifiers and names: any character that is not refused (wire.UNSAFE_CATEGORIES); free
# text (notes, errors, the texts of data): any character at all, escaped on the way in
safe = st.characters(exclude_categories=tuple(wire.UNSAFE_CATEGORIES))  # type: ignore[arg-type]
ids = st.text(safe, min_size=1, max_size=64)
hubs = st.from_regex(wire.HUB_ID_PATTERN, fullmatch=True)
consoles = st.from_regex(wire.CONSOLE_ID_PATTERN, fullmatch=True)
times = st.floats(0, wire.MAX_TS)
counts = st.integers(0, wire.MAX_COUNT)
short = st.text(safe, max_size=64)
secrets = st.text(min_size=1, max_size=256).map(wire.SecretStr)
leaves = (st.none() | st.booleans() | st.integers(-wire.MAX_COUNT, wire.MAX_COUNT)
          | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20))
keys = st.text(safe, min_size=1, max_size=wire.MAX_DATA_KEY)


def nest(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return inner | st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4)


data = st.dictionaries(keys, nest(nest(leaves)), max_size=6)  # MAX_DATA_DEPTH levels at most
lanes = st.sampled_from(["alarm", "telemetry"])



def requests() -> dict[type[Any], st.SearchStrategy[Any]]:
    """A strategy per request op, each with its own fields and, but for login, maybe a token."""
    def op(model: type[wire.RequestBase], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        if issubclass(model, wire.SessionRequest):
            fields["token"] = st.none() | secrets
        return st.builds(model, req=ids, console=consoles, ts=times, **fields)

    notes, maybe_notes = st.text(min_size=1, max_size=300), st.none() | st.text(max_size=300)
    record = st.dictionaries(st.text(safe, min_size=1, max_size=8), st.text(max_size=20), max_size=4)
    return {
        wire.Login: op(wire.Login, user=st.text(safe, min_size=1, max_size=32), password=secrets),
        wire.Logout: op(wire.Logout),
        wire.Claim: op(wire.Claim, alarm=ids),
        wire.Resolve: op(wire.Resolve, alarm=ids, outcome=st.none() | short, notes=maybe_notes),
        wire.CallStart: st.one_of(op(wire.CallStart, alarm=ids, visit=st.none() | ids),
                                  op(wire.CallStart, hub=hubs, visit=st.none() | ids)),
        wire.CallEnd: op(wire.CallEnd, call=ids),
        wire.AlarmStep: op(wire.AlarmStep, alarm=ids, step=st.text(safe, min_size=1, max_size=32),
                           notes=maybe_notes),
        wire.AlarmNote: op(wire.AlarmNote, alarm=ids, notes=notes, written=st.none() | times),
        wire.ElderSave: op(wire.ElderSave, hub=hubs, record=record),
        wire.ElderOverride: op(wire.ElderOverride, hub=hubs, notes=maybe_notes,
                               category=st.none() | st.sampled_from(["key", "secondary", "general"])),
        wire.VisitSave: op(wire.VisitSave, hub=hubs, record=record),
        wire.FollowupClose: op(wire.FollowupClose, followup=ids, notes=maybe_notes),
        wire.Presence: op(wire.Presence),
        wire.Dispatch: op(wire.Dispatch, alarm=ids, kind=st.sampled_from(wire.DISPATCH_KINDS),
                          name=ids, phone=st.none() | st.text(safe, max_size=32)),
        wire.Arrival: st.one_of(op(wire.Arrival, alarm=ids, dispatch=st.integers(1, wire.MAX_COUNT)),
                                op(wire.Arrival, alarm=ids, notification=ids)),
        wire.Acceptance: op(wire.Acceptance, alarm=ids, notification=ids),
    }


MESSAGES: dict[type[Any], st.SearchStrategy[Any]] = {
    wire.Status: st.builds(wire.Status, hub=hubs, online=st.booleans(), ts=times),
    wire.Heartbeat: st.builds(wire.Heartbeat, hub=hubs, ts=times, seq=counts, pending=counts,
                              dropped=counts),
    wire.EventMsg: st.builds(
        wire.EventMsg, hub=hubs, id=ids, kind=ids, source=short, ts=times,
        alarm=st.none() | st.builds(wire.AlarmInfo, kind=ids,
                                    priority=st.integers(1, 4), contact_id=st.integers(0, 999)),
        ref=st.none() | ids, data=data,
        seq=st.none() | st.builds(wire.Seq, epoch=st.text(safe, min_size=1, max_size=32), lane=lanes,
                                  n=st.integers(1, wire.MAX_COUNT), prev=counts)),
    wire.Ack: st.builds(wire.Ack, ids=st.lists(ids, min_size=1, max_size=20), ts=times),
    wire.Resend: st.builds(wire.Resend, lane=lanes, ts=times),
    wire.AlarmUpdate: st.builds(wire.AlarmUpdate, id=ids, state=st.sampled_from(AlarmState), ts=times,
                                officer=st.none() | short, outcome=st.none() | short,
                                accepted=st.none() | st.builds(wire.Accepted, name=ids, relation=short)),
    wire.CallControl: st.one_of(*(  # alarm or visit: what a start needs, and an end may carry
        st.builds(wire.CallControl, op=st.sampled_from(["start", "end"]), call=ids,
                  announce=st.booleans(), ts=times, **{purpose: ids})
        for purpose in ("alarm", "visit"))),
    wire.HubContacts: st.builds(
        wire.HubContacts, hub=hubs, rev=times, language=st.sampled_from(["zh_CN", "en"]),
        name=short, address=st.text(safe, max_size=200), directions=st.text(safe, max_size=200),
        kinds=st.dictionaries(st.text(safe, max_size=32), short, max_size=5),
        people=st.lists(st.builds(wire.FallbackPerson, name=ids,
                                  phone=st.from_regex(wire.MOBILE_PATTERN, fullmatch=True),
                                  role=st.text(safe, max_size=32), relation=short), max_size=8)),
    wire.StationStatus: st.builds(wire.StationStatus, online=st.booleans(), ts=times,
                                  writable=st.booleans(), trouble=st.lists(st.builds(
                                      wire.Trouble, what=ids, code=short, problem=st.text(max_size=100),
                                      fix=st.text(max_size=100)), max_size=3)),
    wire.Changed: st.builds(wire.Changed, what=st.sampled_from(["alarm", "home"]), id=ids),
    **requests(),
    wire.Reply: st.builds(
        wire.Reply, req=ids, ok=st.booleans(), error=st.none() | st.text(max_size=300),
        code=st.none() | st.text(safe, max_size=32), call=st.none() | ids,
        session=st.none() | st.builds(wire.SessionInfo, token=secrets, display=ids, expires=times,
                                      user=st.text(safe, min_size=1, max_size=32),
                                      role=st.text(safe, max_size=16))),
}
messages = st.one_of(*MESSAGES.values())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=40)
# values just past a bound, or not numbers at all: random JSON rarely lands on them (copied,
# as the tests change what they draw)
edges = st.sampled_from([
    math.nan, math.inf, -math.inf, -1, -1e-9, 1e300, wire.MAX_TS + 1, 2**53 + 1, 2**64, 10**30, "",
    "x" * (wire.MAX_DATA_TEXT + 1), {f"k{i}": 0 for i in range(wire.MAX_DATA_ITEMS + 1)},
    list(range(wire.MAX_DATA_ITEMS + 1)), {"k" * (wire.MAX_DATA_KEY + 1): 1}, {"a": {"b": {"c": 1}}},
    [[[1]]], {"a": [math.nan]}]).map(copy.deepcopy)
any_json = edges | json_values
FIELDS = sorted({f for m in MESSAGES for f in m.model_fields})


def test_every_message_type_has_a_strategy() -> None:
    """A message type added to the wire format must be added here to be round-tripped."""
    def members(union: Any) -> set[Any]:  # the requests are a union inside the union
        if get_origin(union) is Annotated:
            union = get_args(union)[0]
        return set().union(*(members(m) for m in get_args(union))) if get_args(union) else {union}
    assert members(wire.Message) == set(MESSAGES)


def decode_or_refuse(payload: bytes) -> wire._Msg | None:
    """The decoder's answer: a message, or None for a WireError (anything else fails the test)."""
    try:
        return wire.decode(payload)
    except wire.WireError as e:
        assert "\n" not in str(e) and len(str(e)) < 400  # one short line in the log
        return None


def assert_stable(msg: wire._Msg) -> None:
    """An accepted message is within bounds: it encodes and decodes to itself, its times can be
    printed, an event's data is as small and plain as documented, and no text in it has a
    character that breaks a line or a screen, but for line breaks and tabs in free text."""
    assert wire.decode(wire.encode(msg)) == msg
    assert not [t for t in texts(msg.model_dump()) if any(wire.unsafe(c) for c in t if c not in "\n\t")]
    for name in ("ts", "expires"):
        ts = getattr(msg, name, None)
        assert ts is None or (math.isfinite(ts) and 0 <= ts <= wire.MAX_TS)
    if isinstance(msg, wire.EventMsg):
        assert plain(msg.data, 1)


def texts(value: object) -> list[str]:
    """Every string in a dumped message, keys included (secrets are not texts: they are kept
    as they came and never shown)."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [k, *texts(v)]]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return [value] if isinstance(value, str) else []


def plain(value: object, depth: int) -> bool:
    """docs/protocol.md's bounds on an event's data, written out again as the test's oracle."""
    if isinstance(value, dict | list):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        return (depth <= wire.MAX_DATA_DEPTH and len(items) <= wire.MAX_DATA_ITEMS
                and all((isinstance(k, int) or (0 < len(k) <= wire.MAX_DATA_KEY
                                                and not any(wire.unsafe(c) for c in k)))
                        and plain(v, depth + 1) for k, v in items))
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):
        return abs(value) <= wire.MAX_COUNT
    return not isinstance(value, str) or max(len(value), len(wire.escaped(value))) <= wire.MAX_DATA_TEXT


def slots(obj: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) in a parsed JSON value: the places a value can be replaced."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    return [place for k, v in items for place in [(obj, k), *slots(v)]]


@props
@given(messages)
def test_every_message_round_trips(msg: wire._Msg) -> None:
    payload = wire.encode(msg)
    assert len(payload) <= wire.MAX_PAYLOAD
    assert wire.decode(payload) == msg
    assert wire.decode_as(payload, type(msg)) == msg


overwritten = messages.map(wire.encode).flatmap(
    lambda p: st.tuples(st.integers(0, len(p)), st.binary(max_size=8)).map(
        lambda cut: p[:cut[0]] + cut[1] + p[cut[0] + len(cut[1]):]))
deep = st.tuples(st.sampled_from([b"[", b'{"a":', b'{"type":"event","data":{"a":']),
                 st.integers(0, 30_000)).map(lambda t: t[0] * t[1])


@props
@given(st.binary(max_size=2000) | overwritten | deep)
def test_arbitrary_bytes_decode_or_raise_wire_error(payload: bytes) -> None:
    """Random bytes, real messages with a few bytes overwritten (broken UTF-8, JSON, fields),
    and deep nesting (recursion limits, the parser's and Python's)."""
    msg = decode_or_refuse(payload)
    if msg is not None:
        assert_stable(msg)
    assert isinstance(wire.redacted(payload), bytes)  # what the station keeps of a refused request


@props
@given(any_json)
def test_arbitrary_json_decodes_or_raises_wire_error(value: object) -> None:
    msg = decode_or_refuse(json.dumps(value).encode())  # NaN and Infinity included
    if msg is not None:
        assert_stable(msg)


@props
@given(messages, st.data())
def test_messages_with_values_replaced_by_any_json(msg: wire._Msg, data: st.DataObject) -> None:
    """Any value of a real message, nested ones included, or a new key of any of its objects, set
    to any JSON value (bounds' edges included): refused, or still within bounds."""
    obj = json.loads(wire.encode(msg))
    for _ in range(data.draw(st.integers(1, 3))):
        added = [(d, data.draw(st.sampled_from([*FIELDS, "x"]))) for d in (obj, obj.get("data"))
                 if isinstance(d, dict)]
        places = slots(obj) + added
        container, key = data.draw(st.sampled_from(places))
        container[key] = data.draw(any_json)
    got = decode_or_refuse(json.dumps(obj).encode())
    if got is not None:
        assert_stable(got)


@props
@given(MESSAGES[wire.EventMsg], st.dictionaries(st.text(max_size=wire.MAX_DATA_KEY + 2), any_json,
                                                max_size=8))
def test_event_data_is_accepted_exactly_within_its_bounds(msg: wire.EventMsg, data: dict[str, Any]) -> None:
    obj = json.loads(wire.encode(msg))
    obj["data"] = data
    assert (decode_or_refuse(json.dumps(obj).encode()) is not None) == plain(data, 1)


@props
@given(messages, st.integers(-40, 40))
def test_size_is_judged_before_parsing(msg: wire._Msg, over: int) -> None:
    """A valid message padded to around the limit: accepted up to MAX_PAYLOAD bytes, not one more."""
    payload = wire.encode(msg)
    padded = payload + b" " * (wire.MAX_PAYLOAD + over - len(payload))
    if over <= 0:
        assert wire.decode(padded) == msg
    else:
        with pytest.raises(wire.WireError, match=f"payload of {len(padded)} bytes exceeds"):
            wire.decode(padded)


# near misses: random characters, and valid ids with one more that a regex might let through
hub_like = st.text(alphabet="ab09_-A/ \n", max_size=66) | st.builds(
    str.__add__, hubs, st.sampled_from(["\n", "/", " ", "A", "\x00", "a" * 64]))


@props
@given(st.text(max_size=120) | st.builds("anxin/v1/hub/{}/{}".format, hubs | hub_like,
                                         st.sampled_from(wire.HUB_UP + wire.HUB_DOWN + (
                                             wire.VOICE_UP, wire.VOICE_DOWN)) | hub_like))
def test_topics_parse_or_raise_wire_error(topic: str) -> None:
    """A topic that parses names a hub id the models accept too (one regex judged two ways)."""
    try:
        hub, leaf = wire.parse_hub_topic(topic)
    except wire.WireError:
        return
    assert wire.hub_topic(hub, leaf) == topic
    assert wire.Status.model_validate({"hub": hub, "online": True, "ts": 0}).hub == hub


seqs = st.builds(wire.Seq, epoch=st.text(safe, min_size=1, max_size=32), lane=lanes,
                 n=st.integers(1, wire.MAX_COUNT), prev=counts)


@props
@given(MESSAGES[wire.EventMsg].map(lambda m: m.model_copy(update={"seq": None})), seqs)
def test_a_stored_message_is_sequenced_without_reading_it_again(msg: wire.EventMsg, seq: wire.Seq) -> None:
    """The uplink's stamp, added to the stored bytes, is what encoding the message with its
    seq gives: the station reads the same message as when the uplink decoded and re-encoded."""
    stamped = wire.sequenced(wire.encode(msg), seq)
    assert stamped == wire.encode(msg.model_copy(update={"seq": seq}))
    assert wire.decode_as(stamped, wire.EventMsg).seq == seq
    assert wire.rechecked(wire.encode(msg)) == wire.encode(msg)
