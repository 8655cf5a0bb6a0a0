"""Wire format v1: MQTT topics and JSON payloads shared by hub, station and console.

Documented in docs/protocol.md. Decoding validates everything that arrives from outside and
raises :class:`WireError` with a readable reason; it never lets a bad payload through.
Unknown fields are ignored so a newer minor revision can add fields; a different major
version (``v``) is refused.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Annotated, Any, Literal, TypeVar, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from hub.common.events import AlarmState, Event
from hub.common.language import Language

VERSION: Literal[1] = 1
PREFIX = f"anxin/v{VERSION}"
MAX_PAYLOAD = 64 * 1024  # bytes; alarms are small, anything larger is refused unread
HUB_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_HUB_ID = re.compile(HUB_ID_PATTERN)  # use fullmatch: Python's $ also matches before a final newline

# A console's id names its reply topic: the topic-safe alphabet only (no "/", "+", "#", "$",
# spaces or control characters, which Mosquitto refuses or reads as levels and wildcards).
# ":" is in it: under TLS a console is named after its certificate, `console:<name>`.
CONSOLE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_CONSOLE_ID = re.compile(CONSOLE_ID_PATTERN)
# Characters no text on the wire may carry as they are: controls (C0, DEL, C1), format
# characters (bidi overrides, zero-width), surrogates, line and paragraph separators. They
# would break a log line in two, or a screen; U+3000 and other spaces stay (Chinese uses them).
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
TEXT_MAX = 2000  # characters of free text (notes, a refusal's error)


def unsafe(c: str) -> bool:
    return unicodedata.category(c) in UNSAFE_CATEGORIES


def _one_line(value: str) -> str:
    """An identifier or a name: refused whole if it has an unsafe character (an id changed
    on the way would no longer be the sender's)."""
    if not value.isprintable() and (bad := [c for c in value if unsafe(c)]):
        raise ValueError(f"control or format character {bad[0]!r} not allowed here")
    return value


def escaped(value: str) -> str:
    """Free text as it may be stored, shown and logged: line breaks kept (CR LF and CR become
    LF) as are tabs; any other unsafe character is written out as its escape (ESC as
    ``\\x1b``), so what an officer typed is kept and still seen."""
    if value.isprintable():
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(repr(c)[1:-1] if c not in "\n\t" and unsafe(c) else c for c in value)


def _text(value: str) -> str:
    out = escaped(value)
    if len(out) > TEXT_MAX:
        raise ValueError(f"text longer than {TEXT_MAX} characters once its control characters "
                         "are escaped")
    return out


HubId = Annotated[str, Field(pattern=HUB_ID_PATTERN)]
ConsoleId = Annotated[str, Field(pattern=CONSOLE_ID_PATTERN)]
Line = AfterValidator(_one_line)
Id = Annotated[str, Field(min_length=1, max_length=64), Line]
Name = Annotated[str, Field(min_length=1, max_length=64), Line]  # a kind, a name
Label = Annotated[str, Field(max_length=64), Line]  # a source, an outcome: may be empty
Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_text)]
# A time: finite, not negative (the last wills say 0.0) and before 2100, past any clock a hub
# can have, so every stored time can be printed. Earlier than real is accepted: a hub without
# a real-time clock counts from 1970 until it finds the network, and its alarms still count.
MAX_TS = 4_102_444_800.0  # 2100-01-01 UTC
Ts = Annotated[float, Field(ge=0, le=MAX_TS, allow_inf_nan=False)]
MAX_COUNT = 2**53  # counters and sequence numbers: exact in any JSON reader, fit SQLite's INTEGER
# An event's free-form data is stored and shown as it came (its texts escaped): small, shallow
# and plain.
MAX_DATA_ITEMS = 32  # keys of one object, items of one list
MAX_DATA_DEPTH = 3  # objects or lists inside one another, data itself included
MAX_DATA_KEY = 64  # characters of a key
MAX_DATA_TEXT = TEXT_MAX  # characters of a string value, as Text


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
    ts: Ts
    down: bool = Field(False, description="the hub listens on …/down (protocol 1.1; absent: a "
                       "hub from before, listening on the topic of each type)")


class Heartbeat(_Msg):
    type: Literal["heartbeat"] = "heartbeat"
    hub: HubId
    ts: Ts
    seq: int = Field(ge=0, le=MAX_COUNT)
    pending: int = Field(ge=0, le=MAX_COUNT, description="alarms and events not yet acknowledged")
    dropped: int = Field(0, ge=0, le=MAX_COUNT, description="telemetry ever dropped by the outbox size bound")


class AlarmInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: Name
    priority: int = Field(ge=1, le=4)
    contact_id: int = Field(ge=0, le=999)


class Seq(BaseModel):
    """Where a message stands in its lane of the hub's outbox; the station stores a message
    only after the one before it (``prev``), so each lane arrives in order."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    epoch: Annotated[str, Field(min_length=1, max_length=32), Line] = Field(
        description="the outbox's identity: numbering restarts with a new hub database")
    lane: Literal["alarm", "telemetry"]
    n: int = Field(ge=1, le=MAX_COUNT, description="outbox sequence number (shared by both lanes)")
    prev: int = Field(ge=0, le=MAX_COUNT, description="the lane's previous unacknowledged message; 0: none")


def _plain_data(data: dict[str, Any]) -> dict[str, Any]:
    """The station stores an event's data and shows parts of it: it must stay within bounds,
    with keys that are names and texts escaped (:func:`escaped`)."""
    return cast(dict[str, Any], _clean_data(data, "", 1))


def _clean_data(value: Any, where: str, depth: int) -> Any:
    """``value`` with its texts escaped; raise ValueError naming the place in ``data`` that
    breaks the MAX_DATA_* bounds or has a key that is no name."""
    at = f"{where}: " if where else ""
    if isinstance(value, dict | list):
        if depth > MAX_DATA_DEPTH:
            raise ValueError(f"{at}objects and lists nested more than {MAX_DATA_DEPTH} deep")
        if len(value) > MAX_DATA_ITEMS:
            raise ValueError(f"{at}more than {MAX_DATA_ITEMS} items")
        if isinstance(value, list):
            return [_clean_data(v, f"{where}.{i}" if where else str(i), depth + 1)
                    for i, v in enumerate(value)]
        out = {}
        for k, v in value.items():
            if not 0 < len(k) <= MAX_DATA_KEY:
                raise ValueError(f"{at}a key must have 1 to {MAX_DATA_KEY} characters")
            try:
                _one_line(k)
            except ValueError as e:
                raise ValueError(f"{at}a key: {e}") from None
            out[k] = _clean_data(v, f"{where}.{k}" if where else k, depth + 1)
        return out
    if isinstance(value, str):
        if len(value) > MAX_DATA_TEXT:
            raise ValueError(f"{at}text longer than {MAX_DATA_TEXT} characters")
        try:
            return _text(value)
        except ValueError as e:
            raise ValueError(f"{at}{e}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{at}numbers must be finite")
    if isinstance(value, int) and abs(value) > MAX_COUNT:
        raise ValueError(f"{at}integer beyond ±{MAX_COUNT}")
    return value


class EventMsg(_Msg):
    """One event; with ``alarm`` set it raises an alarm whose id is this event's id."""

    type: Literal["event"] = "event"
    hub: HubId
    id: Id
    kind: Name
    source: Label
    ts: Ts
    alarm: AlarmInfo | None = None
    ref: Id | None = Field(None, description="alarm id this event refers to (e.g. a cancel)")
    data: Annotated[dict[str, Any], AfterValidator(_plain_data)] = Field(default_factory=dict)
    seq: Seq | None = Field(None, description="set by the uplink as it publishes")


# --- station -> hub -------------------------------------------------------------------------


class Ack(_Msg):
    """The station has durably stored these event ids (sent again for duplicates)."""

    type: Literal["ack"] = "ack"
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)]
    ts: Ts


class Resend(_Msg):
    """A message arrived after a gap in its lane: send the lane again from its oldest
    unacknowledged message (the station stored nothing past the gap)."""

    type: Literal["resend"] = "resend"
    lane: Literal["alarm", "telemetry"]
    ts: Ts


class Accepted(BaseModel):
    """Someone told of the alarm has accepted and is coming: the elder hears who (the
    ``contact_accepted`` prompt, their name in it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: Name
    relation: Label = Field("", description="as the elder's record gives it (儿子), or the "
                            "responder's role")


class AlarmUpdate(_Msg):
    """A lifecycle step taken at the station, so the hub can tell the elder."""

    type: Literal["alarm"] = "alarm"
    id: Id
    state: AlarmState
    ts: Ts
    officer: Label | None = None
    outcome: Label | None = None
    accepted: Accepted | None = Field(None, description="sent once, when someone accepts "
                                      "(added in 1.x, minor: older hubs ignore it)")


class CallControl(_Msg):
    """The station starts or ends a voice call at a hub (two-way voice). A call is for an open
    alarm (``alarm``) or an online visit (``visit``: a free reference, until a visit ledger
    exists). ``announce``: the hub plays the announcement chime and ``visit_call`` before it
    opens the microphone; the hub announces anyway unless the call follows an alarm the elder
    raised, so the microphone is never opened silently."""

    type: Literal["call"] = "call"
    op: Literal["start", "end"]
    call: Id
    alarm: Id | None = None
    visit: Id | None = None
    announce: bool = True
    ts: Ts

    @model_validator(mode="after")
    def _one_purpose(self) -> CallControl:
        if self.op == "start" and (self.alarm is None) == (self.visit is None):
            raise ValueError("a call start needs exactly one of alarm and visit")
        return self


MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"  # a mainland mobile, its 11 digits: what a modem texts
MAX_FALLBACK_PEOPLE = 8
Mobile = Annotated[str, Field(pattern=MOBILE_PATTERN)]
Place = Annotated[str, Field(max_length=200), Line]  # an address, directions


class FallbackPerson(BaseModel):
    """Someone the hub texts itself when it cannot reach the station."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: Name
    phone: Mobile
    role: Annotated[str, Field(max_length=32), Line] = Field(
        description="contact, on_call …, as the station's notifications say")
    relation: Label = Field("", description="as the elder's record gives it (儿子)")


class HubContacts(_Msg):
    """Retained on ``…/hub/<id>/contacts``: who the hub texts itself when an alarm cannot
    reach the station (the hub's fallback), and what the text says of the home. Published by
    the station at start and whenever the elder's record or the responders change; ``rev``
    orders them (the hub keeps the newest). Added in 1.x (minor): an older hub does not
    subscribe to it."""

    type: Literal["contacts"] = "contacts"
    hub: HubId
    rev: float = Field(ge=0, le=MAX_TS, allow_inf_nan=False,
                       description="when the station wrote it: a lower one is older")
    language: Language = Field("zh_CN", description="the texts' language")
    name: Label = Field("", description="the elder's name ('' without a record: the hub id)")
    address: Place = ""
    directions: Place = ""
    kinds: Annotated[dict[Annotated[str, Field(max_length=32), Line], Label],
                     Field(max_length=32)] = Field(
        default_factory=dict, description="alarm kind -> its name in ``language`` (county rules)")
    people: Annotated[list[FallbackPerson], Field(max_length=MAX_FALLBACK_PEOPLE)] = Field(
        default_factory=list, description="in order: the first contact, the on-call officers")


# --- station <-> consoles -------------------------------------------------------------------


class Trouble(BaseModel):
    """Something at the station that keeps notifications from going out (the SMS modem
    unplugged, no SIM), and what a person must do."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    what: Name = Field(description="the channel: sms, wecom …")
    code: Label = Field(description="e.g. sms.no_sim, sms.unavailable, sms.not_configured")
    problem: Text
    fix: Text


class StationStatus(_Msg):
    type: Literal["station"] = "station"
    online: bool
    ts: Ts
    writable: bool = True  # False: the station cannot write its database (a full disk) and
    # stores nothing new; hubs keep their alarms and send them again (added in 1.x, minor)
    trouble: Annotated[list[Trouble], Field(max_length=16)] = Field(
        default_factory=list, description="what keeps notifications from going out (added in "
        "1.x, minor)")
    down: bool = Field(False, description="the station sends to hubs on …/down (protocol 1.1; "
                       "absent: a station from before, sending on the topic of each type)")


class Changed(_Msg):
    """Something in the station database changed; consoles re-read that row (a call on an
    alarm is announced as its alarm, an online visit's call as its home)."""

    type: Literal["changed"] = "changed"
    what: Literal["alarm", "home"]
    id: Id


# A password or session token: hidden in repr and logs, sent in clear only inside the JSON.
Secret = Annotated[SecretStr, Field(min_length=1, max_length=256),
                   PlainSerializer(lambda s: s.get_secret_value(), return_type=str, when_used="json")]
SECRET_FIELDS = ("password", "token")
Username = Annotated[str, Field(min_length=1, max_length=32), Line]


class RequestBase(_Msg):
    """What every request carries: a console asks the station to act (docs/protocol.md §4).
    One model per ``op`` below; :data:`Request` is their union, told apart by ``op``."""

    type: Literal["request"] = "request"
    req: Id
    console: ConsoleId = Field(description="names the reply topic")
    ts: Ts = Field(description="console time; stale requests are refused")


class Login(RequestBase):
    """Opens a session: the reply carries its token (:class:`SessionInfo`)."""

    op: Literal["login"] = "login"
    user: Username
    password: Secret


class SessionRequest(RequestBase):
    """Any op but login: done as the user of the session ``token`` (none, or one that has
    ended: refused, ``login_required``), with that user's role."""

    token: Secret | None = None


class Logout(SessionRequest):
    op: Literal["logout"] = "logout"


class Claim(SessionRequest):
    op: Literal["claim"] = "claim"
    alarm: Id


class Resolve(SessionRequest):
    op: Literal["resolve"] = "resolve"
    alarm: Id
    outcome: Label | None = Field(None, description="one the county offers (refused otherwise)")
    notes: Text | None = None


class CallStart(SessionRequest):
    """Calls the home of a claimed ``alarm``, or ``hub`` for an online visit."""

    op: Literal["call_start"] = "call_start"
    alarm: Id | None = None
    hub: HubId | None = Field(None, description="without alarm: the home to visit")
    visit: Id | None = Field(None, description="for a visit: the visit record's reference (free "
                             "until a visit ledger exists)")

    @model_validator(mode="after")
    def _one_purpose(self) -> CallStart:
        if (self.alarm is None) == (self.hub is None):
            raise ValueError("op 'call_start' needs exactly one of alarm and hub")
        return self


class CallEnd(SessionRequest):
    op: Literal["call_end"] = "call_end"
    call: Id = Field(description="the call to hang up")


class AlarmStep(SessionRequest):
    """Stamps a step of the county response plan on an alarm."""

    op: Literal["alarm_step"] = "alarm_step"
    alarm: Id
    step: Annotated[str, Field(min_length=1, max_length=32), Line] = Field(
        description="a step key of the county response plan")
    notes: Text | None = None


class AlarmNote(SessionRequest):
    """Adds notes to an alarm's timeline."""

    op: Literal["alarm_note"] = "alarm_note"
    alarm: Id
    notes: Text
    written: Ts | None = Field(None, description="console time the note was written, before ts: "
                               "a note kept while the station could not take it")


# An elder record or a visit: within the bounds of an event's data (docs/protocol.md).
Record = Annotated[dict[str, Any], AfterValidator(_plain_data)]


class HomeRecord(SessionRequest):
    """A record of a home's elder to store: ``record`` is checked at the station by its op."""

    hub: HubId
    record: Record


class ElderSave(HomeRecord):
    """Creates or edits the elder record (``record``: an ElderRecord) of a home."""

    op: Literal["elder_save"] = "elder_save"


class ElderOverride(SessionRequest):
    """Sets an elder's category against the rules, with the reason in ``notes``."""

    op: Literal["elder_override"] = "elder_override"
    hub: HubId
    category: Literal["key", "secondary", "general"] | None = Field(
        None, description="the group; null clears the override")
    notes: Text | None = None


class VisitSave(HomeRecord):
    """Records a visit (``record``) at a home."""

    op: Literal["visit_save"] = "visit_save"


class FollowupClose(SessionRequest):
    op: Literal["followup_close"] = "followup_close"
    followup: Id
    notes: Text | None = None


class Presence(SessionRequest):
    """The console is in use (sent every 30 s while logged in): with none lately, the
    station is unattended and tells the on-call officer itself (docs/notify.md)."""

    op: Literal["presence"] = "presence"


DISPATCH_KINDS = ("grid_worker", "key_holder", "volunteer", "family", "120", "119")


class Dispatch(SessionRequest):
    """Sends a responder to an alarm the officer has claimed: they get the alarm's text (no
    medical details) by SMS when they have a mobile, and the dispatch timer runs against the
    county's promise."""

    op: Literal["dispatch"] = "dispatch"
    alarm: Id
    kind: Literal["grid_worker", "key_holder", "volunteer", "family", "120", "119"]
    name: Name
    phone: Annotated[str, Field(max_length=32), Line] | None = Field(
        None, description="a mainland number (checked at the station); none for 120 and 119")


class Arrival(SessionRequest):
    """Someone is at the door, as the officer heard by phone: a dispatch's arrival, or a
    notified person's (exactly one of ``dispatch`` and ``notification``)."""

    op: Literal["arrival"] = "arrival"
    alarm: Id
    dispatch: int | None = Field(None, ge=1, le=MAX_COUNT)
    notification: Id | None = None

    @model_validator(mode="after")
    def _one(self) -> Arrival:
        if (self.dispatch is None) == (self.notification is None):
            raise ValueError("op 'arrival' needs exactly one of dispatch and notification")
        return self


class Acceptance(SessionRequest):
    """Someone told of the alarm accepted by phone: as their reply would (the cascade stops,
    the elder hears who is coming)."""

    op: Literal["acceptance"] = "acceptance"
    alarm: Id
    notification: Id = Field(description="the message they were told by")


# The duty-desk ops (console.station.desk_ops): the alarm's checklist and notes, records, and
# the people told (dispatch, arrival, acceptance).
DeskRequest = AlarmStep | AlarmNote | ElderSave | ElderOverride | VisitSave | FollowupClose
NotifyRequest = Dispatch | Arrival | Acceptance
SessionOp = Logout | Presence | Claim | Resolve | CallStart | CallEnd | DeskRequest | NotifyRequest
Request = Annotated[Login | SessionOp, Field(discriminator="op")]
_REQUEST: TypeAdapter[Request] = TypeAdapter(Request)


def request(fields: dict[str, Any]) -> Request:
    """The request of ``fields``' op (a console building one); ValidationError if it is not
    one the station would take."""
    return _REQUEST.validate_python(fields)


class SessionInfo(BaseModel):
    """A console's login: the token for its requests, and who is logged in."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    token: Secret
    user: Username
    display: Name
    role: Annotated[str, Field(max_length=16), Line] = Field(description="duty, supervisor or admin")
    expires: Ts


class Reply(_Msg):
    type: Literal["reply"] = "reply"
    req: Id
    ok: bool
    error: Text | None = None
    code: Annotated[str, Field(max_length=32), Line] | None = Field(
        None, description="why not, for the console to say in its language: bad_login, locked, "
        "slowed, busy, clock, expired, invalid, login_required, not_yours, hub_offline, "
        "hub_busy, no_call, storage (the station cannot write its database) …")
    session: SessionInfo | None = Field(None, description="the answer to a login")
    call: Id | None = Field(None, description="the answer to a call_start: the call's id")


class RequestHead(BaseModel):
    """What a reply needs of a request: read on its own when the rest is refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    req: Id


def request_id(payload: bytes) -> str | None:
    """The ``req`` of a request payload, None where it cannot be trusted."""
    if len(payload) > MAX_PAYLOAD:
        return None
    try:
        return RequestHead.model_validate_json(payload).req
    except ValidationError:
        return None


def redacted(payload: bytes) -> bytes:
    """A refused request made fit to keep: secrets masked. One that is not a JSON object is
    not kept at all, since a password could be anywhere in it."""
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        obj = None
    if not isinstance(obj, dict):
        return b"(not a JSON object; not kept, as it may hold a password)"
    return json.dumps({k: "***" if k in SECRET_FIELDS else v for k, v in obj.items()},
                      ensure_ascii=False).encode()


Message = Annotated[
    Status | Heartbeat | EventMsg | Ack | Resend | AlarmUpdate | CallControl | HubContacts
    | StationStatus | Changed | Request | Reply,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[Message] = TypeAdapter(Message)
Down = Ack | Resend | AlarmUpdate | CallControl  # what the station sends a hub on ``…/down``


def encode(msg: _Msg) -> bytes:
    return msg.model_dump_json(exclude_none=True).encode()


def decode(payload: bytes) -> Message:
    """Parse and validate one payload, or raise WireError saying what is wrong."""
    if len(payload) > MAX_PAYLOAD:
        raise WireError(f"payload of {len(payload)} bytes exceeds the {MAX_PAYLOAD}-byte limit")
    try:
        return _ADAPTER.validate_json(payload)
    except ValidationError as e:
        raise WireError(reason(e)) from None


def reason(e: ValidationError) -> str:
    """A refusal on one short line for the logs: where, and the first error."""
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    # a refused tag is quoted whole: keep the reason short and on one line for the logs
    msg = "".join(c if c.isprintable() else repr(c)[1:-1]
                  for c in first["msg"].removeprefix("Value error, ")[:200])
    return f"{where}: {msg} ({e.error_count()} error(s))"


def decode_down(payload: bytes) -> Down:
    """Decode a message on a hub's ``…/down``: one the station sends a hub, of any type."""
    msg = decode(payload)
    if not isinstance(msg, Down):
        raise WireError(f"expected a message for a hub, got type {msg.type!r}")
    return msg


def decode_request(payload: bytes) -> Request:
    """Decode a console's request, of any op."""
    msg = decode(payload)
    if not isinstance(msg, RequestBase):
        raise WireError(f"expected a request, got type {msg.type!r}")
    return msg


def decode_as(payload: bytes, kind: type[M]) -> M:
    """Decode and insist on one message type (a topic carries exactly one)."""
    msg = decode(payload)
    if not isinstance(msg, kind):
        raise WireError(f"expected a {kind.__name__} message, got type {msg.type!r}")
    return msg


# --- topics ---------------------------------------------------------------------------------

HUB_UP = ("status", "heartbeat", "event")  # published by the hub
# Published by the station to one hub. ``down`` carries every :data:`Down` message, in the
# order the station sent them, on one QoS 1 subscription: on a NATS cluster each QoS 1
# subscription of a session is a JetStream consumer, and a county has tens of thousands of
# hubs. ``contacts`` is retained state, subscribed at QoS 0: the hub subscribes again at every
# connection, and the broker hands it the retained one then.
DOWN, CONTACTS = "down", "contacts"
HUB_DOWN = (DOWN, CONTACTS)
# Before 1.1 each Down message had a topic of its own, its type: a station with
# ``legacy_hub_topics`` publishes there too, for hubs not yet updated.
LEGACY_DOWN = ("ack", "resend", "alarm", "call")
# Two-way voice: binary packets (hub.voice.packet), QoS 0. Up: the hub's microphone, to the
# console in the call and the station's recorder; down: the console's headset, to the hub.
VOICE_UP, VOICE_DOWN = "voice/up", "voice/down"
STATION_STATUS = f"{PREFIX}/station/status"
STATION_CHANGED = f"{PREFIX}/station/changed"
REQUEST_PREFIX = f"{PREFIX}/station/request/"  # + the console id: request_topic()
STATION_REQUESTS = f"{REQUEST_PREFIX}+"  # the station hears every console's


def hub_topic(hub: str, leaf: str) -> str:
    if not _HUB_ID.fullmatch(hub):
        raise WireError(f"bad hub id {hub!r}: must match {HUB_ID_PATTERN}")
    return f"{PREFIX}/hub/{hub}/{leaf}"


def hub_wildcard(leaf: str) -> str:
    return f"{PREFIX}/hub/+/{leaf}"


def _console(console: str) -> str:
    if not _CONSOLE_ID.fullmatch(console):
        raise WireError(f"bad console id {console[:100]!r}: must match {CONSOLE_ID_PATTERN}")
    return console


def request_topic(console: str) -> str:
    """A console sends its requests on a topic of its own: under TLS the broker lets each
    console identity write only its own (config/mosquitto/acl), so the topic says who sent
    a request, where the payload's ``console`` is only the sender's word."""
    return f"{REQUEST_PREFIX}{_console(console)}"


def reply_topic(console: str) -> str:
    return f"{PREFIX}/station/reply/{_console(console)}"


def request_console(topic: str) -> str | None:
    """The console id of a request topic (``anxin/v1/station/request/<console>``), None for
    any other topic; WireError for a request topic whose last level is no console id."""
    if not topic.startswith(REQUEST_PREFIX):
        return None
    return _console(topic.removeprefix(REQUEST_PREFIX))


def parse_hub_topic(topic: str) -> tuple[str, str]:
    """Split ``anxin/v1/hub/<hub>/<leaf>`` into (hub, leaf), or raise WireError; the voice
    leaves are two levels (``voice/up``, ``voice/down``)."""
    parts = topic.split("/")
    voice = len(parts) == 6 and "/".join(parts[4:]) in (VOICE_UP, VOICE_DOWN)
    if (len(parts) != 5 and not voice) or "/".join(parts[:3]) != f"{PREFIX}/hub" \
            or not _HUB_ID.fullmatch(parts[3]):
        raise WireError(f"not a hub topic: {topic[:100]!r}")
    return parts[3], "/".join(parts[4:])


def sequenced(payload: bytes, seq: Seq) -> bytes:
    """A stored event message stamped with its place in the lane as it is published. The
    message is not read again: ``seq`` joins it as its last key, so ``payload`` must be as
    :func:`encode` wrote it (one EventMsg without a seq; :func:`rechecked` makes one of a
    message from elsewhere). The result is what encoding the message with its seq gives."""
    return payload[:-1] + b',"seq":' + seq.model_dump_json().encode() + b"}"


def rechecked(payload: bytes) -> bytes:
    """A stored event message put through today's checks again (it was stored before this
    start, perhaps by an older version with other limits) and encoded as :func:`encode` does."""
    return encode(decode_as(payload, EventMsg))


def with_data(payload: bytes, **data: Any) -> bytes:
    """A stored event message with keys added to its data (a held alarm's ``sent``)."""
    msg = decode_as(payload, EventMsg)
    return encode(msg.model_copy(update={"data": {**msg.data, **data}}))


def event_msg(hub: str, ev: Event, *, priority: int | None = None,
              contact_id: int | None = None) -> EventMsg:
    """The wire form of an event; a rule may override its alarm's priority and Contact ID.

    Texts in its data are escaped, then cut to MAX_DATA_TEXT: a ``reason`` is an exception's
    message, and an alarm must not fail to go out over its explanation."""
    t = ev.alarm_type
    alarm = AlarmInfo(kind=t.kind, priority=priority or int(t.priority),
                      contact_id=t.contact_id if contact_id is None else contact_id) if t else None
    return EventMsg(
        hub=hub, id=ev.id, kind=ev.kind, source=ev.source, ts=ev.ts, alarm=alarm, ref=ev.data.get("ref"),
        data={k: escaped(v)[:MAX_DATA_TEXT] if isinstance(v, str) else v
              for k, v in ev.data.items() if k != "ref"},
    )

