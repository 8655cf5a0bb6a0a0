"""The headless station service: the station's single writer, running 24/7 without a console.

Hub events are stored durably, then acknowledged (at-least-once from the hub, de-duplicated
here by event id). Consoles log in, then send claim/resolve requests with their session token;
the service applies them atomically for that user, tells the hub (so the elder hears it) and
announces the change to every console. Voice calls are started and ended here too (a call on
a claimed alarm, or an online visit), and recorded (:mod:`console.station.recorder`); the
voice itself goes between the console and the hub through the broker.

People outside the station are told by :class:`~console.station.notifier.Notifier` (the
notification engine's I/O): the service tells it what happened to each alarm, and hands it the
channels (the robots of the notify file, and the SMS modem the CLI composes: ``channels``).

Its long-running work (the online status, homes gone silent, escalation, unanswered calls,
the storage check, the notification workers) runs in loops of :mod:`hub.common.tasks`: a
round that fails (a full disk) is logged and the next one comes. While it cannot write its
database, its status says so (``writable: false``) and every console shows it; a request it
could not apply is answered with the code ``storage``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import SecretStr

from console.casework.county import load_county
from console.station import desk_ops
from console.station.calls import CallRefused, CallRow
from console.station.config import StationConfig, load_homes
from console.station.login_queue import LoginQueue
from console.station.notifier import Notifier
from console.station.notify.channel import Channel
from console.station.notify.config import build as build_channels
from console.station.notify.config import load_notify
from console.station.notify.responders import load_responders
from console.station.quota import RejectQuota
from console.station.recorder import Recorder
from console.station.records_store import OpRefused
from console.station.store.backfill import Backfill
from console.station.store.db import storage_errors
from console.station.store.ingest import AGAIN_KIND, CALL_EVENTS, OutOfOrder
from console.station.store.rows import AlarmRow
from console.station.store.station import StationStore
from console.station.users import LoginRefused, User
from hub.common import wire
from hub.common.events import CANCEL_KIND, ELDER_CALLS, FALLBACK_KIND, WALKTEST, AlarmState, new_id
from hub.common.systemd import supervised
from hub.common.tasks import Failures, Tasks
from hub.common.transport import PahoTransport, Settling, Transport, Will
from hub.voice import FRAME_MS
from hub.voice.packet import VoiceError

log = logging.getLogger(__name__)

REQUEST_MAX_AGE_S = 10  # = the console's reply timeout: a claim it gave up on is not done later
# Ahead of the station's clock by more is refused (`clock`): a request stamped ahead lives that
# much longer, so a claim could be done after its console gave up. Consoles share the station
# PC's clock or keep theirs by NTP; a few seconds cover a PC whose time sync lapsed for days.
REQUEST_SKEW_S = 5
MAX_ACK_IDS = 1000  # wire.Ack's limit
RESEND_ASK_GAP_S = 1.0  # at most one resend request per hub lane per second
RESEND_CLOSED_S = 24 * 3600  # a returning hub is told of alarms closed this recently
INCOMPLETE = "incomplete: the station service stopped during the call"
# An alarm this old when it arrives was held up (its hub cut off; a hub falls back after 10 s at
# the least): its notifications are planned LATE_PLAN_S later, so a notify.fallback behind it
# in its lane (whom the hub texted itself, docs/modem.md) is heard first, even when it comes in
# the next batch. A restart meanwhile plans them from the rows.
LATE_ALARM_S = 10.0
LATE_PLAN_S = 1.0

TransportFactory = Callable[[StationConfig, asyncio.AbstractEventLoop], Transport]


def station_will() -> Will:
    return Will(wire.STATION_STATUS, wire.encode(wire.StationStatus(online=False, ts=0.0)))


def paho_transport(cfg: StationConfig, loop: asyncio.AbstractEventLoop) -> Transport:
    """MQTT for everything (one township's Mosquitto); with ``nats`` in station.yaml, what
    hubs and consoles send comes from JetStream instead (docs/county.md)."""
    if cfg.nats is not None:
        from console.station.jetstream import JetStreamTransport  # nats-py: the county extra

        return JetStreamTransport(
            broker=cfg.broker, nats=cfg.nats, loop=loop, will=station_will(),
            client_id=f"anxin-station-{cfg.station_id}-{cfg.nats.worker}")
    return PahoTransport(broker=cfg.broker, client_id=f"anxin-station-{cfg.station_id}",
                         loop=loop, will=station_will())


class StationService:
    """Use ``async with StationService(cfg) as station:``."""

    def __init__(self, cfg: StationConfig, *, transport: TransportFactory = paho_transport,
                 channels: Sequence[Channel] = ()) -> None:
        """``channels``: besides the notify file's robots, the ones the CLI composes (the SMS
        modem, which the console may not import)."""
        self.cfg = cfg
        self._make_transport = transport
        self.rules = load_county(cfg.county_file)
        notify = load_notify(cfg.notify_file)
        self.store = StationStore(cfg.location, login=cfg.login, tz=self.rules.tz)
        if cfg.homes_file:
            self.store.load_homes(load_homes(cfg.homes_file), actor=cfg.homes_file.name)
        if cfg.responders_file:
            self.store.notify.load_responders(load_responders(cfg.responders_file),
                                              actor=cfg.responders_file.name, now=time.time())
        self.notifier = Notifier(self.store, notify, self.rules, cfg.language,
                                 channels=[*build_channels(notify.channels), *channels],
                                 changed=lambda alarm: self._changed("alarm", alarm),
                                 tell_hub=self._tell_accepted, trouble_changed=self._say_again)
        self.on_alarm_stored: Callable[[str], None] | None = None  # instrumentation: alarm id
        self._rejects = RejectQuota()
        self._resend_asked: dict[tuple[str, str], float] = {}  # (hub, lane) -> monotonic time
        self._inbox: list[wire.EventMsg] = []  # events waiting for the next commit
        self._beats: dict[str, wire.Heartbeat] = {}  # heartbeats waiting for the next commit
        self._up_since: float | None = None  # monotonic time the broker connection came up
        self._contacts_said = False
        self.tasks = Tasks(log)
        self._handling = Failures("handling a message", log)
        self._storing_events = Failures("storing events (not acknowledged: the hubs send them "
                                        "again)", log)
        self._storing_beats = Failures("storing heartbeats (the next ones say it again)", log)
        self._notifying = Failures("planning notifications (planned again from the database)", log)
        self._writable = True  # as the consoles were last told
        self._logins: set[asyncio.Task[None]] = set()
        self._login_queue = LoginQueue()
        self._login_lock = asyncio.Lock()
        self.recorder = Recorder()
        self._recording: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StationService:
        self.t = self._make_transport(self.cfg, asyncio.get_running_loop())
        if isinstance(self.t, Settling):  # JetStream: a batch is acknowledged once committed
            self.t.settle_when(lambda: not (self._storing_events.failing
                                            or self._storing_beats.failing))
        # Plain subscriptions, never MQTT shared ones ($share): any client the station CA
        # trusts could join a shared group, and the broker would hand it (and the ACL then
        # drop) its share of the events and requests (docs/security.md).
        self.t.subscribe(wire.hub_wildcard("event"))
        self.t.subscribe(wire.hub_wildcard("heartbeat"), qos=0)
        self.t.subscribe(wire.hub_wildcard("status"))
        self.t.subscribe(wire.STATION_REQUESTS)
        self.t.subscribe(wire.STATION_STATUS)  # its own: an offline that is not true is answered
        for leaf in (wire.VOICE_UP, wire.VOICE_DOWN):  # calls are recorded here
            self.t.subscribe(wire.hub_wildcard(leaf), qos=0)
        for c in self.store.calls.interrupted(INCOMPLETE):
            log.warning("call %s with %s was being recorded when the station stopped: its "
                        "recording %s is incomplete", c.id, c.hub, c.recording)
        self.t.start(self._message, self._connection)
        period = min(1.0, self.cfg.offline_after_s / 5)  # shown at most a second late
        self.tasks.every("station status", period, self._status_round)
        self.tasks.every("storage check", period, self._check_storage)
        self.tasks.every("homes gone silent", period, self._mark_silent)
        self.tasks.every("escalation", period, lambda: self.escalate(time.time()))
        self.tasks.every("unanswered calls", period, self._unanswered_calls)
        self.tasks.every("rejection counts", period, self._count_rejects)
        self.tasks.loop("summary backfill", Backfill(self.store).round)
        await self.notifier.start(self.tasks)
        log.info("station %s up, database %s", self.cfg.station_id, self.cfg.location)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.tasks.cancel()
        await self.notifier.aclose()
        for task in [*self._logins, *filter(None, [self._recording])]:
            task.cancel()
        for rec in self.recorder.close_all():  # the calls go on without the station
            self.store.calls.recorded(rec.call, rec.seconds, INCOMPLETE)
        if self.t.connected:
            self.t.publish(wire.STATION_STATUS, wire.encode(wire.StationStatus(
                online=False, ts=time.time(), writable=self._writable,
                trouble=self.notifier.troubles())), retain=True)
        self.t.close()
        if isinstance(self.t, Settling):
            await self.t.aclose()
        self.store.close()

    def _connection(self, up: bool) -> None:
        self._up_since = time.monotonic() if up else None
        if up:
            self._say_online()
            if not self._contacts_said:  # retained: once a start is enough
                self._contacts_said = True
                self._say_contacts([h.hub for h in self.store.homes()])

    def _say_contacts(self, hubs: Sequence[str]) -> None:
        """Each hub's contacts for its own fallback (retained): at start, when a record
        changes (the responders change only with a restart) and when the hub is back
        (:meth:`_back`)."""
        with self._handling.round():
            for msg in self.notifier.hub_contacts(hubs, time.time()):
                self.t.publish(wire.hub_topic(msg.hub, wire.CONTACTS), wire.encode(msg), qos=1,
                               retain=True)

    def _to_hub(self, hub: str, msg: wire.Down) -> None:
        """QoS 1 on the hub's ``…/down``; with ``legacy_hub_topics`` on the topic of its type
        too, for a hub from before protocol 1.1 (a hub listens on one or the other)."""
        payload = wire.encode(msg)
        self.t.publish(wire.hub_topic(hub, wire.DOWN), payload)
        if self.cfg.legacy_hub_topics and msg.type in wire.LEGACY_DOWN:
            self.t.publish(wire.hub_topic(hub, msg.type), payload)

    def _say_online(self) -> None:
        """Retained; said again whenever the status topic says offline while this station is
        up (:meth:`_own_status`)."""
        self.t.publish(wire.STATION_STATUS, wire.encode(wire.StationStatus(
            online=True, ts=time.time(), writable=self._writable,
            trouble=self.notifier.troubles(), down=True)), retain=True)

    def _say_again(self) -> None:
        """What the station says of itself changed (a notification channel's trouble)."""
        if self.t.connected:
            self._say_online()

    def _message(self, topic: str, payload: bytes) -> None:
        with self._handling.round():  # e.g. a full disk: the next message is handled again
            self._dispatch(topic, payload)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        try:
            if topic == wire.STATION_STATUS:
                self._own_status(wire.decode_as(payload, wire.StationStatus))
                return
            if (console := wire.request_console(topic)) is not None:
                try:
                    req = _sent_by(console, wire.decode_request(payload))
                except wire.WireError as e:
                    self._answer_refused(console, payload, e)
                    raise
                self._request(req)
                return
            hub, leaf = wire.parse_hub_topic(topic)
            if leaf in (wire.VOICE_UP, wire.VOICE_DOWN):
                try:
                    self.recorder.packet(hub, leaf, payload)
                except VoiceError as e:
                    raise wire.WireError(f"not a voice packet: {e}") from None
            elif leaf == "event":
                self._event(_from(hub, wire.decode_as(payload, wire.EventMsg)))
            elif leaf == "status":
                self._status(_from(hub, wire.decode_as(payload, wire.Status)))
            elif leaf == "heartbeat":
                self._heartbeat(_from(hub, wire.decode_as(payload, wire.Heartbeat)))
            else:
                raise wire.WireError(f"unexpected topic leaf {leaf!r}")
        except wire.WireError as e:
            self._reject(topic, e, payload)

    def _reject(self, topic: str, error: wire.WireError, payload: bytes) -> None:
        """Log and keep a refused message, up to the topic's budget; beyond it only count."""
        n = self._rejects.take(topic, time.monotonic())
        if n <= self._rejects.burst:
            log.error("rejected message on %.200r: %s%s", topic, error,
                      "; further ones on this topic are only counted for now" if n == self._rejects.burst
                      else "")
            self.store.reject(topic, str(error), wire.redacted(payload)
                              if topic.startswith(wire.REQUEST_PREFIX) else payload)

    def _event(self, msg: wire.EventMsg) -> None:
        """Queue for the next loop turn: what arrived together is stored in one commit."""
        if not self._inbox:
            asyncio.get_running_loop().call_soon(self._ingest)
        self._inbox.append(msg)

    def _ingest(self) -> None:
        """Store the queued events (one fsync), then acknowledge them, a message per hub."""
        batch, self._inbox = self._inbox, []
        with self._storing_events.round():
            results = self.store.store_events(batch)
        if self._storing_events.failing:
            return
        acks: dict[str, list[str]] = {}
        # told to the notifier once the hubs have their acks
        alarms: list[str] = []
        late: list[str] = []  # held up on the way: planned a moment later (LATE_ALARM_S)
        cancelled: list[str] = []
        fallbacks: list[wire.EventMsg] = []
        now = time.time()
        for msg, result in zip(batch, results, strict=True):
            if isinstance(result, OutOfOrder):
                self._ask_resend(msg.hub, result)
                continue
            acks.setdefault(msg.hub, []).append(msg.id)
            if result and msg.alarm and msg.alarm.kind == WALKTEST:  # a record, never an alarm
                log.info("walk test at %s: %s %s", msg.hub, msg.source, msg.kind)
                self._changed("home", msg.hub)
            elif result and msg.alarm:
                log.info("alarm %s from %s: %s", msg.id, msg.hub, msg.alarm.kind)
                if self.on_alarm_stored:
                    self.on_alarm_stored(msg.id)
                self._changed("alarm", msg.id)
                (late if now - msg.ts > LATE_ALARM_S else alarms).append(msg.id)
            elif result and msg.kind == CANCEL_KIND and msg.ref:
                log.info("alarm %s cancelled at home %s", msg.ref, msg.hub)
                self._changed("alarm", msg.ref)
                cancelled.append(msg.ref)
            elif result and msg.kind in CALL_EVENTS:
                self._hub_call_event(msg)
            elif result and msg.kind == "call.request" and msg.ref:
                self._changed("alarm", msg.ref)
            elif result and msg.kind == FALLBACK_KIND and msg.ref:
                log.info("alarm %s: hub %s texted the contacts itself", msg.ref, msg.hub)
                self._changed("alarm", msg.ref)
                fallbacks.append(msg)
            elif result and msg.kind == AGAIN_KIND and msg.ref:
                log.info("alarm %s pressed again at home %s", msg.ref, msg.hub)
                self._changed("alarm", msg.ref)
            elif not result:
                log.info("duplicate %s from %s acknowledged again", msg.id, msg.hub)
        for hub, ids in acks.items():
            for i in range(0, len(ids), MAX_ACK_IDS):
                self._to_hub(hub, wire.Ack(ids=ids[i:i + MAX_ACK_IDS], ts=now))
        if fallbacks:  # first: whom the hub texted is not texted again for its alarm
            self._notify(self.notifier.fallback, fallbacks)
        if alarms:
            self._notify(self.notifier.stored, alarms)
        if late:  # what the hub did meanwhile (its own texts) may be right behind them
            asyncio.get_running_loop().call_later(LATE_PLAN_S, self._notify, self.notifier.stored,
                                                  late)
        for ref in cancelled:
            if (a := self.store.alarm(ref)) and a.state.closed:
                self._notify(self.notifier.closed, a)

    def _heartbeat(self, hb: wire.Heartbeat) -> None:
        """Queue for the next loop turn: the heartbeats that arrived together go in one commit
        (a hub's later one replaces its earlier)."""
        if not self._beats:
            asyncio.get_running_loop().call_soon(self._store_heartbeats)
        self._beats[hb.hub] = hb

    def _store_heartbeats(self) -> None:
        beats, self._beats = list(self._beats.values()), {}
        if not beats:  # stored already, ahead of a status (_status)
            return
        with self._storing_beats.round():
            results = self.store.heartbeats([(b.hub, b.pending, b.dropped) for b in beats], time.time())
        if self._storing_beats.failing:
            return
        for hb, (back, dropped) in zip(beats, results, strict=True):
            if dropped:
                log.warning("hub %s dropped %d telemetry message(s) over its outbox bound "
                            "(%d in all); alarms are never dropped", hb.hub, dropped, hb.dropped)
            self._changed("home", hb.hub, back)
            if back:
                self._back(hb.hub)

    def _ask_resend(self, hub: str, gap: OutOfOrder) -> None:
        """Nothing past a gap is stored or acknowledged; the hub is asked, once a second at
        most (the rest of its window is still arriving), to send the lane again."""
        now = time.monotonic()
        if now - self._resend_asked.get((hub, gap.lane), -RESEND_ASK_GAP_S) >= RESEND_ASK_GAP_S:
            self._resend_asked[(hub, gap.lane)] = now
            log.info("hub %s: %s; asking for the lane again", hub, gap)
            self._to_hub(hub, wire.Resend(lane=gap.lane, ts=time.time()))

    def _status(self, msg: wire.Status) -> None:
        if msg.hub in self._beats:  # it came first: stored after, it would say online again
            self._store_heartbeats()
        changed = self.store.set_online(msg.hub, msg.online, time.time())
        self._changed("home", msg.hub, changed)
        if msg.online and not msg.down and not self.cfg.legacy_hub_topics:
            log.error("hub %s runs protocol 1.0 and hears nothing this station sends it (acks, "
                      "alarm updates, calls): set legacy_hub_topics: true in station.yaml, or "
                      "update the hub (docs/protocol.md)", msg.hub)
        if msg.online and changed:
            self._back(msg.hub)
        elif msg.online:
            self._catch_up(msg.hub)
        elif call := self.store.calls.open_call(msg.hub):
            self._end_call(call.id, "hub_offline", actor="station")

    def _back(self, hub: str) -> None:
        """A hub come back online. Its contacts are said again, which reaches it live: a
        county's gateway node whose feed of retained messages died with another node hands no
        newcomer a topic first retained after that (docs/county.md, "Retained messages after a
        node is lost"), e.g. the contacts of a hub saved at the desk before it was installed."""
        self._say_contacts([hub])
        self._catch_up(hub)

    def _catch_up(self, hub: str) -> None:
        """A hub that was away may have missed lifecycle steps: send them again (it ignores
        the ones it has), including alarms closed while it was away."""
        since = time.time() - RESEND_CLOSED_S
        for a in self.store.alarms_for_hub(hub, open_only=False):
            if a.state is not AlarmState.DELIVERED and (a.closed or a.raised) >= since:
                self._tell_hub(a)

    def _answer_refused(self, console: str, payload: bytes, error: wire.WireError) -> None:
        """Tell the console that sent it (its topic's) why its request was refused, when its
        ``req`` can be read; otherwise only the log and the ``rejected`` table have it."""
        if req := wire.request_id(payload):
            self.t.publish(wire.reply_topic(console), wire.encode(wire.Reply(
                req=req, ok=False, code="invalid", error=str(error))))

    def _request(self, req: wire.Request) -> None:
        try:
            self._answer(req)
        except Exception as e:  # answered, so the console says so at once; then logged
            self._reply_failed(req, e)
            raise

    def _reply_failed(self, req: wire.RequestBase, error: Exception) -> None:
        """A request the station failed to carry out: ``storage`` when it could not write its
        database (a full disk)."""
        self._reply(req, error=f"the station failed: {error}"[:500],
                    code="storage" if isinstance(error, storage_errors()) else None)

    def _answer(self, req: wire.Request) -> None:
        ahead = req.ts - time.time()
        if ahead > REQUEST_SKEW_S:
            log.warning("%s from %s: stamped %.0f s ahead of the station's clock; refused",
                        req.op, req.console, ahead)
            self._reply(req, code="clock", error=f"the console's clock is {ahead:.0f} s ahead "
                        "of the station's: set it right")
        elif self._expired(req):
            pass
        elif isinstance(req, wire.Login):
            if not self._login_queue.enter(req.console):
                log.info("login from %s: refused, %d logins already waiting", req.console,
                         len(self._login_queue))
                self._reply(req, code="busy", error="the station is checking other logins: "
                            "try again in a few seconds")
                return
            task = asyncio.get_running_loop().create_task(self._login(req))
            self._logins.add(task)
            task.add_done_callback(self._logins.discard)
        else:
            self._act(req)

    def _expired(self, req: wire.Request) -> bool:
        """Refuse a request older than its console waits: the console has given up on it."""
        if time.time() - req.ts <= REQUEST_MAX_AGE_S:
            return False
        log.info("%s from %s: expired", req.op, req.console)
        self._reply(req, code="expired",
                    error="request expired before the station service could act on it")
        return True

    def _act(self, req: wire.SessionOp) -> None:
        """Claim, resolve, call, work the desk or log out as the user of the request's session,
        with the role that user has now (a role change or a disabled account takes effect at
        once)."""
        now = time.time()
        token = req.token.get_secret_value() if req.token else ""
        user = self.store.users.session_user(token, now=now) if token else None
        if user is None:
            log.info("%s %s from %s: no valid session", req.op, _about(req), req.console)
            self._reply(req, code="login_required",
                        error="not logged in, or the session has ended: log in again")
            return
        self.store.users.seen(token, now=now)
        if self.notifier.attended is not True:  # a console came back: attended from now on
            self._notify(lambda _: self.notifier.check_attended(), None)
        error = code = call = None
        after: Callable[[], None] | None = None  # the notifications' part, once answered
        try:
            match req:
                case wire.Presence():
                    pass
                case wire.Logout():
                    self.store.users.logout(token, now=now)
                case wire.CallStart():
                    call = self._start_call(req, user, now).id
                case wire.CallEnd():
                    self._hang_up(req.call, user)
                case wire.Claim():
                    self._alarm_changed(self.store.claim(req.alarm, user.username, user.display,
                                                         now))
                    after = functools.partial(self._notify, self.notifier.claimed, req.alarm)
                case wire.Resolve():
                    desk_ops.check_outcome(self.rules, req.outcome or "")
                    row = self.store.resolve(req.alarm, user.username, user.display,
                                             req.outcome or "", req.notes or "", now,
                                             may_take_over=user.role.may_take_over)
                    if (on := self.store.calls.open_call(row.hub)) and on.alarm == row.id:
                        self._end_call(on.id, "hangup", actor=user.username)
                    self._alarm_changed(row)
                    after = functools.partial(self._notify, self.notifier.closed, row)
                case wire.Dispatch():
                    self.notifier.dispatch(req, user, now)
                case wire.Acceptance():
                    self.notifier.acceptance(req, user, now)
                case wire.Arrival():
                    self.notifier.arrival(req, user, now)
                case _:
                    for what, id in desk_ops.apply(self.store, self.rules, req, user, now):
                        self._changed(what, id)
                    if isinstance(req, wire.ElderSave):
                        self._say_contacts([req.hub])
        except (CallRefused, OpRefused) as e:  # a ClaimConflict is an OpRefused
            error, code = str(e), e.code
        if not isinstance(req, wire.Presence):
            log.info("%s %s by %s: %s", req.op, _about(req), user.username, error or "ok")
        self._reply(req, error=error, code=code, call=call)
        if after is not None:
            after()

    async def _login(self, req: wire.Login) -> None:
        """The password check (scrypt, deliberately slow) runs off the event loop, so alarms
        are not held up; one login at a time bounds its CPU and memory and keeps the failure
        count in order. The queue before it is bounded (LoginQueue), and a login that waited
        there past the request age is dropped unchecked: its console has given up."""
        users = self.store.users
        try:
            async with self._login_lock:
                if self._expired(req):
                    return
                attempt = users.begin_login(req.user, via=req.console, now=time.time())
                started = time.monotonic()
                ok = await asyncio.to_thread(attempt.check, req.password.get_secret_value())
                self._login_queue.checked(time.monotonic() - started)
                s = users.finish_login(attempt, ok, now=time.time())
        except LoginRefused as e:
            self._reply(req, error=str(e), code=e.code)
            return
        except Exception as e:
            self._reply_failed(req, e)
            self._handling.failed(e)
            return
        finally:
            self._login_queue.leave(req.console)
        self._reply(req, session=wire.SessionInfo(
            token=SecretStr(s.token), user=s.user.username, display=s.user.display,
            role=s.user.role.value, expires=s.expires))
        self._notify(lambda _: self.notifier.check_attended(), None)

    def _reply(self, req: wire.RequestBase, *, error: str | None = None, code: str | None = None,
               session: wire.SessionInfo | None = None, call: str | None = None) -> None:
        self.t.publish(wire.reply_topic(req.console), wire.encode(
            wire.Reply(req=req.req, ok=error is None, error=error, code=code, session=session,
                       call=call)))

    # --- voice calls ----------------------------------------------------------------------

    def _start_call(self, req: wire.CallStart, user: User, now: float) -> CallRow:
        """Record the call (refused: CallRefused), start its recording, ring the hub."""
        call = new_id()
        path = self.cfg.recordings / f"{call}.ogg"
        visit = None if req.alarm else req.visit or call  # the call is the visit's record for now
        row = self.store.calls.start(call, hub=req.hub or "", alarm=req.alarm, visit=visit,
                                     console=req.console, username=user.username,
                                     officer=user.display, recording=str(path), now=now)
        alarm = self.store.alarm(row.alarm) if row.alarm else None
        try:
            self.recorder.open(call, row.hub, path)
        except (OSError, RuntimeError) as e:  # a full disk must not stop the call
            log.error("call %s cannot be recorded: %s", call, e)
            self.store.calls.recorded(call, 0.0, f"not recorded: {e}"[:200])
        if self.recorder.recordings and self._recording is None:
            self._recording = asyncio.get_running_loop().create_task(self._record())
        self._to_hub(row.hub, wire.CallControl(
            op="start", call=call, alarm=row.alarm, visit=row.visit, ts=now,
            announce=alarm is None or alarm.kind not in ELDER_CALLS))
        self._call_changed(row)
        return row

    def _hang_up(self, call: str, user: User) -> None:
        row = self.store.calls.get(call)
        if row is None or (row.username != user.username and not user.role.may_take_over):
            raise CallRefused("not_yours", "only the officer on the call can hang it up")
        if not self._end_call(call, "hangup", actor=user.username):
            raise CallRefused("no_call", "the call has already ended")

    def _end_call(self, call: str, reason: str, *, actor: str) -> bool:
        """End a call the station knows as open: tell the hub, close the recording."""
        row = self.store.calls.end(call, reason, actor=actor, now=time.time())
        if row is None:
            return False
        log.info("call %s with %s ended: %s (%s)", call, row.hub, reason, actor)
        self._to_hub(row.hub, wire.CallControl(
            op="end", call=call, alarm=row.alarm, visit=row.visit, ts=time.time()))
        self._stop_recording(call)
        self._call_changed(row)
        return True

    def _hub_call_event(self, msg: wire.EventMsg) -> None:
        """call.open / call.end from the hub, already stored (store.calls.from_hub)."""
        row = self.store.calls.get(str(msg.data.get("call", "")))
        if row is None or row.hub != msg.hub:
            log.warning("hub %s reports %s for a call it does not have", msg.hub, msg.kind)
            return
        log.info("call %s with %s: %s %s", row.id, row.hub, msg.kind, msg.data.get("reason", ""))
        if row.ended is not None:
            self._stop_recording(row.id)
        self._call_changed(row)

    def _stop_recording(self, call: str) -> None:
        if rec := self.recorder.close(call):
            self.store.calls.recorded(call, rec.seconds, None if rec.frames else "nothing recorded")

    def _call_changed(self, row: CallRow) -> None:
        """Consoles re-read the call with its alarm, or for a visit with its home."""
        if row.alarm:
            self._changed("alarm", row.alarm)
        else:
            self._changed("home", row.hub)

    async def _record(self) -> None:
        """Write the recordings' frames as they fall due; stops with the last recording."""
        try:
            while self.recorder.recordings:
                await asyncio.sleep(FRAME_MS / 1000)
                try:
                    self.recorder.tick()
                except Exception:  # e.g. a full disk: the calls and the service go on
                    log.exception("writing the call recordings failed; stopping them")
                    for rec in self.recorder.close_all():
                        self.store.calls.recorded(rec.call, rec.seconds, "incomplete: write failed")
        finally:
            self._recording = None

    def escalate(self, now: float) -> list[str]:
        """Flag open alarms no one has claimed within escalate_after_s; consoles show them."""
        ids = self.store.escalate(now - self.cfg.escalate_after_s, now)
        for id in ids:
            log.warning("alarm %s unclaimed for %.0f s: escalated", id, self.cfg.escalate_after_s)
            self._changed("alarm", id)
            self._notify(self.notifier.escalated, id)
        return ids

    def _alarm_changed(self, a: AlarmRow) -> None:
        """A step taken at the station: the hub tells the elder, the consoles re-read it."""
        self._tell_hub(a)
        self._changed("alarm", a.id)

    def _tell_hub(self, a: AlarmRow, accepted: wire.Accepted | None = None) -> None:
        ts = (a.closed if a.state.closed else a.claimed) or a.received
        self._to_hub(a.hub, wire.AlarmUpdate(id=a.id, state=a.state, ts=ts, officer=a.officer,
                                             outcome=a.outcome, accepted=accepted))

    def _tell_accepted(self, alarm: str, accepted: wire.Accepted) -> None:
        """Someone told accepted: the elder hears who is coming (only while the alarm is open)."""
        if (a := self.store.alarm(alarm)) and not a.state.closed:
            self._tell_hub(a, accepted)

    def _notify(self, step: Callable[[T], None], arg: T) -> None:
        """A step of the notifications after the station's own is done and answered: a failure
        there (a full disk) is logged, and the notifier plans again from its rows."""
        with self._notifying.round():
            step(arg)

    def _changed(self, what: str, id: str, really: bool = True) -> None:
        if really:
            self.t.publish(wire.STATION_CHANGED,
                           wire.encode(wire.Changed(what=what, id=id)))

    def _own_status(self, msg: wire.StationStatus) -> None:
        """The retained status says offline while this station is up: a last will that outlived
        its connection, or (once there are several station workers) another worker's. Say
        online again at once. It used to be said every 5 s instead, to every hub: at 10 000
        homes, 2 000 deliveries a second and their acknowledgements, behind which the broker
        held an alarm now and then (tests/bench/bench_scale.py)."""
        if not msg.online and self.t.connected:
            log.warning("the station's status says offline while it is up; saying online again")
            self._say_online()

    def _status_round(self) -> None:
        """The online status again when whether the station can write its database changes."""
        writable = self.store.trouble is None
        if writable == self._writable:
            return
        self._writable = writable
        if writable:
            log.warning("the station can write its database again")
        else:
            log.error("the station cannot write its database (%s): nothing new is stored or "
                      "acknowledged (the hubs keep sending), the consoles are told",
                      self.store.trouble)
        if self.t.connected:
            self._say_online()

    def _check_storage(self) -> None:
        """While a write has failed, try a small one, so the consoles hear when writing works
        again even if nothing else is written meanwhile."""
        if self.store.trouble is not None:
            self.store.check_writable(time.time())

    def _mark_silent(self) -> None:
        """Homes silent past offline_after_s are shown offline (the last will may be late).
        Not until the station has itself been connected that long: the heartbeats of the
        time it was away are still arriving, behind what the broker kept for it."""
        if self._up_since is None or time.monotonic() - self._up_since < self.cfg.offline_after_s:
            return
        now = time.time()
        for hub in self.store.mark_silent_offline(now - self.cfg.offline_after_s, now):
            log.warning("hub %s silent for %.0f s: offline", hub, self.cfg.offline_after_s)
            self._changed("home", hub)
            if call := self.store.calls.open_call(hub):
                self._end_call(call.id, "hub_offline", actor="station")

    def _unanswered_calls(self) -> None:
        now = time.time()
        for c in self.store.calls.open_calls():
            if c.answered is None and now - c.started > self.cfg.call_answer_s:
                self._end_call(c.id, "no_answer", actor="station")

    def _count_rejects(self) -> None:
        for topic, n in self._rejects.ended(time.monotonic()):
            log.error("%d more messages rejected on %.200r within %.0f s: counted, not logged "
                      "or kept", n, topic, self._rejects.window_s)


def _about(req: wire.SessionOp) -> str:
    """What a request is about, for the log: its alarm, home, call or follow-up."""
    return next((v for f in ("alarm", "hub", "call", "followup") if (v := getattr(req, f, None))),
                "")


def _sent_by(console: str, req: wire.Request) -> wire.Request:
    """A console may only speak for itself: the payload's console must be the topic's, the
    one the broker vouches for under TLS (its ACL lets a console write only its own request
    topic). So the login queue, lockouts and known consoles count real consoles."""
    if req.console != console:
        raise wire.WireError(f"payload says console {req.console!r} on console {console!r}'s "
                             "topic")
    return req


H = TypeVar("H", wire.EventMsg, wire.Status, wire.Heartbeat)
T = TypeVar("T")


def _from(hub: str, msg: H) -> H:
    """A hub may only speak for itself: the payload's hub must be the topic's."""
    if msg.hub != hub:
        raise wire.WireError(f"payload says hub {msg.hub!r} on hub {hub!r}'s topic")
    return msg


async def run_station(cfg: StationConfig, stop: asyncio.Event,
                      channels: Sequence[Channel] = ()) -> None:
    async with StationService(cfg, channels=channels) as station, \
            supervised(f"station {cfg.station_id}", lambda: station.tasks.dead):
        await stop.wait()
