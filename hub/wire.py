"""Wire format v1: MQTT topics and JSON payloads shared by hub, station and console.

Documented in docs/protocol.md. Decoding validates everything that arrives from outside and
raises :class:`WireError` with a readable reason; it never lets a bad payload through.
Unknown fields are ignored so a newer minor revision can add fields; a different major
version (``v``) is refused.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hub.events import AlarmState, Event

VERSION: Literal[1] = 1
PREFIX = f"anxin/v{VERSION}"
MAX_PAYLOAD = 64 * 1024  # bytes; alarms are small, anything larger is refused unread
HUB_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_HUB_ID = re.compile(HUB_ID_PATTERN)

HubId = Annotated[str, Field(pattern=HUB_ID_PATTERN)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=2000)]


class WireError(ValueError):
    """A payload or topic that does not follow the wire format; the message says why."""


class _Msg(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    v: Literal[1] = VERSION


M = TypeVar("M", bound=_Msg)


# --- hub -> station -------------------------------------------------------------------------


class Status(_Msg):
    """Retained availability of a hub; the broker publishes the offline one as last will."""

    type: Literal["status"] = "status"
    hub: HubId
    online: bool
    ts: float


class Heartbeat(_Msg):
    type: Literal["heartbeat"] = "heartbeat"
    hub: HubId
    ts: float
    seq: int = Field(ge=0)
    pending: int = Field(ge=0, description="alarms and events not yet acknowledged")


class AlarmInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: str
    priority: int = Field(ge=1, le=4)
    contact_id: int = Field(ge=0, le=999)


class EventMsg(_Msg):
    """One event; with ``alarm`` set it raises an alarm whose id is this event's id."""

    type: Literal["event"] = "event"
    hub: HubId
    id: Id
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    source: Annotated[str, Field(max_length=64)]
    ts: float
    alarm: AlarmInfo | None = None
    ref: Id | None = Field(None, description="alarm id this event refers to (e.g. a cancel)")
    data: dict[str, Any] = Field(default_factory=dict)


# --- station -> hub -------------------------------------------------------------------------


class Ack(_Msg):
    """The station has durably stored these event ids (sent again for duplicates)."""

    type: Literal["ack"] = "ack"
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    ts: float


class AlarmUpdate(_Msg):
    """A lifecycle step taken at the station, so the hub can tell the elder."""

    type: Literal["alarm"] = "alarm"
    id: Id
    state: AlarmState
    ts: float
    officer: Annotated[str, Field(max_length=64)] | None = None
    outcome: Annotated[str, Field(max_length=64)] | None = None


# --- station <-> consoles -------------------------------------------------------------------


class StationStatus(_Msg):
    type: Literal["station"] = "station"
    online: bool
    ts: float


class Changed(_Msg):
    """Something in the station database changed; consoles re-read that row."""

    type: Literal["changed"] = "changed"
    what: Literal["alarm", "home"]
    id: Id


class Request(_Msg):
    type: Literal["request"] = "request"
    req: Id
    console: Id
    op: Literal["claim", "resolve"]
    ts: float = Field(description="console time; stale requests are refused")
    alarm: Id
    officer: Annotated[str, Field(min_length=1, max_length=64)]
    outcome: Annotated[str, Field(max_length=64)] | None = None
    notes: Text | None = None


class Reply(_Msg):
    type: Literal["reply"] = "reply"
    req: Id
    ok: bool
    error: Text | None = None


Message = Annotated[
    Status | Heartbeat | EventMsg | Ack | AlarmUpdate | StationStatus | Changed | Request | Reply,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)


def encode(msg: _Msg) -> bytes:
    return msg.model_dump_json(exclude_none=True).encode()


def decode(payload: bytes) -> Message:
    """Parse and validate one payload, or raise WireError saying what is wrong."""
    if len(payload) > MAX_PAYLOAD:
        raise WireError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    try:
        return _ADAPTER.validate_json(payload)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise WireError(f"{where}: {first['msg']} ({e.error_count()} error(s))") from None


def decode_as(payload: bytes, kind: type[M]) -> M:
    """Decode and insist on one message type (a topic carries exactly one)."""
    msg = decode(payload)
    if not isinstance(msg, kind):
        raise WireError(f"expected a {kind.__name__} message, got type {msg.type!r}")
    return msg


# --- topics ---------------------------------------------------------------------------------

HUB_UP = ("status", "heartbeat", "event")  # published by the hub
HUB_DOWN = ("ack", "alarm")  # published by the station to the hub
STATION_STATUS = f"{PREFIX}/station/status"
STATION_CHANGED = f"{PREFIX}/station/changed"
STATION_REQUEST = f"{PREFIX}/station/request"


def hub_topic(hub: str, leaf: str) -> str:
    if not _HUB_ID.match(hub):
        raise WireError(f"bad hub id {hub!r}: must match {HUB_ID_PATTERN}")
    return f"{PREFIX}/hub/{hub}/{leaf}"


def hub_wildcard(leaf: str) -> str:
    return f"{PREFIX}/hub/+/{leaf}"


def reply_topic(console: str) -> str:
    return f"{PREFIX}/station/reply/{console}"


def parse_hub_topic(topic: str) -> tuple[str, str]:
    """Split ``anxin/v1/hub/<hub>/<leaf>`` into (hub, leaf), or raise WireError."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != f"{PREFIX}/hub" or not _HUB_ID.match(parts[3]):
        raise WireError(f"not a hub topic: {topic!r}")
    return parts[3], parts[4]


def event_msg(hub: str, ev: Event, *, priority: int | None = None,
              contact_id: int | None = None) -> EventMsg:
    """The wire form of an event; a rule may override its alarm's priority and Contact ID."""
    t = ev.alarm_type
    alarm = AlarmInfo(kind=t.kind, priority=priority or int(t.priority),
                      contact_id=t.contact_id if contact_id is None else contact_id) if t else None
    return EventMsg(
        hub=hub, id=ev.id, kind=ev.kind, source=ev.source, ts=ev.ts, alarm=alarm,
        ref=ev.data.get("ref"), data={k: v for k, v in ev.data.items() if k != "ref"},
    )

