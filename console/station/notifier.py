"""The notification engine at work in the station service: the I/O around the pure engine.

The service tells the notifier what happened (an alarm stored, claimed, escalated, closed; a
desk's dispatch, acceptance or arrival); the notifier asks the engine what follows, stores it
(:mod:`console.station.store.notify`: every message a row before it is sent, each cascade as it
stands, in one transaction) and hands the new messages to one worker per channel (P1 first,
within the channel's rate, retried with backoff). What the channels answer is written back;
a message that cannot go moves its cascade on. SMS replies come back through the channel that
heard them (:class:`~console.station.notify.channel.Listening`) and become acceptances and
arrivals. Whether the station is attended is read from the console sessions every second.

A restart rebuilds the engine from the rows (:meth:`Notifier.start`): cascades resume where
they stood, queued messages are sent, and a step taken while the station stopped between its
commit and the engine (a claim, a close) is applied then.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from console.casework import phone as phones
from console.casework.county import CountyRules
from console.station.notify.channel import (
    Channel,
    ChannelError,
    Incoming,
    Listening,
    Message,
    Sent,
    Trouble,
)
from console.station.notify.config import NotifyFile
from console.station.notify.engine import Action, Case, NotifyEngine, TellHub
from console.station.notify.people import about, hub_contacts, mobile, people
from console.station.notify.policy import GROUP_CHANNELS
from console.station.notify.responders import Responder
from console.station.notify.texts import Person, Wording, meaning
from console.station.notify.worker import ChannelWorker
from console.station.records_store import OpRefused
from console.station.store.db import errors as db_errors
from console.station.store.notify import NotificationRow
from console.station.store.rows import AlarmRow
from console.station.store.station import StationStore
from console.station.users import User
from hub.common import wire
from hub.common.events import ALARM_TYPES, AlarmState, Priority
from hub.common.language import Language
from hub.common.tasks import Tasks

log = logging.getLogger(__name__)

ATTENDED_EVERY_S = 1.0  # how often the console sessions are read
LONGEST_WAIT_S = 60.0  # the timer looks again at least this often
NOT_CONFIGURED = {
    "sms": "no SMS modem is configured: set modem.port in the notify file (docs/modem.md)",
    "wecom": "set channels.wecom in the notify file",
    "dingtalk": "set channels.dingtalk in the notify file",
    "webhook": "set channels.webhook in the notify file",
}


class Notifier:
    """``changed(alarm)``: consoles re-read it; ``tell_hub(alarm, accepted)``: the elder hears
    who is coming; ``trouble_changed()``: the station's status says what cannot send."""

    def __init__(self, store: StationStore, cfg: NotifyFile, rules: CountyRules,
                 language: Language, *, channels: Sequence[Channel],
                 changed: Callable[[str], None], tell_hub: Callable[[str, wire.Accepted], None],
                 trouble_changed: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.time,
                 wait: Callable[[float | None], Awaitable[None]] | None = None) -> None:
        """``clock`` and ``wait``: the workers' (a benchmark runs a storm on a fake clock)."""
        self.store, self.cfg, self.rules, self.language = store, cfg, rules, language
        self._changed, self._tell_hub, self._trouble_changed = changed, tell_hub, trouble_changed
        self._clock = clock
        self.channels = list(channels)
        self.workers = {c.name: ChannelWorker(c, on_sent=self._sent, on_failed=self._failed,
                                              on_retry=self._retrying, clock=clock, wait=wait)
                        for c in self.channels}
        self.engine = self._engine()
        self.trouble: dict[str, Trouble] = {}
        for name in sorted(cfg.rules.person_channels() - self.workers.keys()):
            self.trouble[name] = Trouble(name, f"{name}.not_configured",
                                         f"the policy sends by {name}, which is not configured",
                                         NOT_CONFIGURED.get(name, "see docs/notify.md"))
        self.attended: bool | None = None  # None: not read yet
        self._responders: list[Responder] = []  # as loaded at start (responders_file)
        self._woken = asyncio.Event()

    def _engine(self) -> NotifyEngine:
        groups = {c for c in self.workers if c in GROUP_CHANNELS}
        return NotifyEngine(self.cfg.rules, Wording(self.language, self.rules.tz), groups=groups)

    # --- life -----------------------------------------------------------------------------------

    async def start(self, tasks: Tasks) -> None:
        """Take up where the last run stopped, start the channels that listen (a reply may be
        waiting on the SIM), then the workers, the timer and the attendance check."""
        for t in self.trouble.values():
            log.error("notifications: %s (%s); fix: %s", t.problem, t.code, t.fix)
        self._restore()
        unsent = [row for row in self.store.notify.queued() if not self._submit(row)]
        if unsent:
            self._give_up([(row.id, self._unsendable(row)) for row in unsent])
        for c in self.channels:
            if isinstance(c, Listening):
                await c.listen(self.reply, functools.partial(self._trouble, c.name))
        for name, w in self.workers.items():
            tasks.loop(f"notify {name}", w.round)
        tasks.until("notify timer", self._next_delay, self.tick, longest=LONGEST_WAIT_S,
                    woken=self._woken)
        tasks.every("notify attended", ATTENDED_EVERY_S, self.check_attended)

    async def aclose(self) -> None:
        for c in self.channels:
            try:
                await c.aclose()
            except Exception:
                log.exception("closing the %s channel failed", c.name)

    def _restore(self) -> None:
        """The engine rebuilt from the rows: each open alarm with its cascades and messages;
        an alarm closed while a cascade of it still ran (the station stopped between the two)
        is closed in the engine now."""
        self.engine = self._engine()
        self._responders = [r.responder for r in self.store.notify.responders()]
        if self.attended is not None:
            self.engine.attended = self.attended
        for a in self.store.open_alarms():
            self.engine.restore(self._case(a), self.store.notify.cascades(a.id),
                                self.store.notify.told(a.id))
        for alarm in sorted({c.alarm for c in self.store.notify.cascades()}):
            if not self.engine.is_open(alarm) and (closed := self.store.alarm(alarm)):
                self.engine.restore(self._case(closed), self.store.notify.cascades(alarm),
                                    self.store.notify.told(alarm))
                self._apply(self.engine.closed(alarm, self._outcome(closed), self._clock()))
        self.check_attended()
        self.tick()

    def troubles(self) -> list[wire.Trouble]:
        return [wire.Trouble(what=t.channel, code=t.code, problem=t.problem[:2000], fix=t.fix[:2000])
                for t in self.trouble.values()]

    # --- what happened at the station ---------------------------------------------------------

    def stored(self, alarms: Sequence[str]) -> None:
        """Alarms just stored (a batch: their messages in one transaction)."""
        now = self._clock()
        actions: list[Action] = []
        for alarm in alarms:
            if a := self.store.alarm(alarm):
                actions += self.engine.alarm(self._case(a), now)
        self._apply(actions)

    def fallback(self, msgs: Sequence[wire.EventMsg]) -> None:
        """The hubs' notify.fallback events: whom each texted itself while the station was out
        of reach count as told (before the alarms of the same batch are planned, so they are
        not texted again)."""
        now = self._clock()
        actions: list[Action] = []
        for msg in msgs:
            a = self.store.alarm(msg.ref) if msg.ref else None
            if a is None or a.hub != msg.hub:
                log.warning("hub %s texted for alarm %s, which is not its alarm here", msg.hub,
                            msg.ref)
                continue
            told, failed = _told_by_hub(msg.data.get("told"), now)
            for f in failed:
                log.warning("alarm %s: the hub's own text to %s failed (%s)", a.id, f.get("phone"),
                            f.get("error"))
            log.info("alarm %s: hub %s texted %d person(s) itself", a.id, a.hub, len(told))
            text = msg.data.get("text")
            actions += self.engine.fallback(self._case(a), told,
                                            text[:2000] if isinstance(text, str) else "", now)
        self._apply(actions)

    def hub_contacts(self, hubs: Sequence[str], now: float) -> list[wire.HubContacts]:
        """The retained contacts message of each of ``hubs`` (its own fallback), as the
        records are: read in one query for many (every home's at start)."""
        kinds = {k: getattr(self.rules.kind_label(k), self.language)[:64]
                 for k, t in ALARM_TYPES.items() if t.priority == Priority.LIFE}
        records = self.store.records
        try:
            elders = dict(records.elders()) if len(hubs) > 1 else None
        except Exception:  # a record that no longer reads: each home is read on its own
            log.exception("reading every elder record at once failed; reading them one by one")
            elders = None
        out = []
        for hub in hubs:
            try:
                elder = elders.get(hub) if elders is not None else records.elder(hub)
                out.append(hub_contacts(hub, elder, self._responders, kinds=kinds,
                                        language=self.language, rev=now))
            except Exception:  # one home's record must not keep the others' from their hubs
                log.exception("the contacts of hub %s cannot be made; not sent", hub)
        return out

    def claimed(self, alarm: str) -> None:
        self._apply(self.engine.claimed(alarm, self._clock()))

    def escalated(self, alarm: str) -> None:
        self._apply(self.engine.escalated(alarm, self._clock()))

    def closed(self, a: AlarmRow) -> None:
        self._apply(self.engine.closed(a.id, self._outcome(a), self._clock()))

    def check_attended(self) -> None:
        """Attended: a console session made a request within attended_s (docs/notify.md)."""
        now = self._clock()
        consoles = self.store.users.attended(since=now - self.cfg.attended_s, now=now)
        if bool(consoles) == self.attended:
            return
        self.attended = bool(consoles)
        if self.attended:
            log.info("station attended (console %s)", ", ".join(consoles))
        else:
            log.warning("station unattended: no console in use for %.0f s; notifications "
                        "follow the policy's unattended steps", self.cfg.attended_s)
        self._apply(self.engine.set_attended(self.attended, now))

    def tick(self) -> None:
        self._apply(self.engine.tick(self._clock()))

    def _next_delay(self) -> float | None:
        due = self.engine.next_due()
        return None if due is None else max(0.0, due - self._clock())

    # --- the desk -----------------------------------------------------------------------------

    def dispatch(self, req: wire.Dispatch, user: User, now: float) -> None:
        """Send a responder (OpRefused when the alarm is not this officer's or the number is
        not one)."""
        a = self.store.alarm(req.alarm)
        if a is None:
            raise OpRefused("no_alarm", f"no alarm {req.alarm}")
        if a.state.closed:
            raise OpRefused("closed", f"alarm is already {a.state.value}")
        if a.claimed_by is None:
            raise OpRefused("not_claimed", "claim the alarm first")
        if a.claimed_by != user.username and not user.role.may_take_over:
            raise OpRefused("not_yours", f"already claimed by {a.officer}")
        number = (req.phone or "").strip()
        if req.kind in ("120", "119"):
            number = req.kind
        elif not number or phones.parse(number) is None:
            raise OpRefused("invalid", f"phone: {number!r} is not a mainland mobile or landline "
                            "(a responder is phoned or texted)")
        d = self.store.notify.dispatch(a.id, kind=req.kind, name=req.name, phone=number,
                                       username=user.username, officer=user.display,
                                       promise_s=self.cfg.promise.seconds(a.elder), now=now)
        who = Person(req.name, mobile(number), req.kind)
        self._apply(self.engine.dispatched(a.id, who, d.id, user.display, now))
        self._changed(a.id)

    def acceptance(self, req: wire.Acceptance, user: User, now: float) -> None:
        """The officer heard by phone that someone told accepts."""
        n = self._message(req.alarm, req.notification)
        if not self.store.notify.answer(n.id, "accepted", by=user.username, actor=user.username,
                                        now=now, officer=True):
            raise OpRefused("invalid", f"{n.person} has already accepted")
        self._apply(self.engine.accepted(n.alarm, n.who, now))
        self._changed(n.alarm)

    def arrival(self, req: wire.Arrival, user: User, now: float) -> None:
        """The officer heard by phone that someone is at the door."""
        if req.notification is not None:
            self._arrive(self._message(req.alarm, req.notification), user.username, user.username,
                         now)
            return
        assert req.dispatch is not None
        d = next((d for d in self.store.notify.dispatches(req.alarm) if d.id == req.dispatch), None)
        if d is None:
            raise OpRefused("no_dispatch", f"no dispatch {req.dispatch} on alarm {req.alarm}")
        if self.store.notify.arrive(d.id, by=user.username, actor=user.username, now=now) is None:
            raise OpRefused("invalid", f"{d.name}'s arrival is already stamped")
        for n in self.store.notify.for_alarm(d.alarm):
            if n.topic == "dispatch" and n.step == d.id:
                self.store.notify.answer(n.id, "arrived", by=user.username, actor=user.username,
                                         now=now, officer=True)
        self._apply(self.engine.arrived(d.alarm, Person(d.name, mobile(d.phone), d.kind), now))
        self._changed(d.alarm)

    def _message(self, alarm: str, key: str) -> NotificationRow:
        n = self.store.notify.get(key)
        if n is None or n.alarm != alarm or not n.phone:
            raise OpRefused("no_notification", f"no message {key} to a person on alarm {alarm}")
        return n

    # --- replies ------------------------------------------------------------------------------

    async def reply(self, r: Incoming) -> None:
        """A text back from someone (the channel keeps it until this returns): ``1`` accepts,
        ``到`` arrives, anything else goes on the alarm's timeline for the officer."""
        now = self._clock()
        sense = meaning(r.text)
        stored = self.store.notify.reply(channel=r.channel, phone=r.sender, text=r.text,
                                         sent_at=r.sent_at, meaning=sense, now=now)
        if stored is None:
            log.info("reply from %s heard again: already taken", r.sender)
            return
        n = stored.answers
        if n is None:
            log.warning("reply from %s answers no message sent there in the last day: %r",
                        r.sender, r.text[:200])
            return
        log.info("reply from %s on alarm %s (%s): %s", r.sender, n.alarm, sense, r.text[:200])
        if sense == "accept":
            if self.store.notify.answer(n.id, "accepted", by="reply", actor=f"sms:{r.sender}",
                                        now=now):
                self._apply(self.engine.accepted(n.alarm, n.who, now))
        elif sense == "arrive":
            self._arrive(n, "reply", f"sms:{r.sender}", now)
        self._changed(n.alarm)

    def _arrive(self, n: NotificationRow, by: str, actor: str, now: float) -> None:
        """``n``'s person is there: they accepted (if not yet), their dispatch is stamped."""
        officer = by != "reply"
        if self.store.notify.answer(n.id, "accepted", by=by, actor=actor, now=now, officer=officer):
            self._apply(self.engine.accepted(n.alarm, n.who, now))
        self.store.notify.answer(n.id, "arrived", by=by, actor=actor, now=now, officer=officer)
        for d in self.store.notify.dispatches(n.alarm):
            if d.arrived is None and mobile(d.phone) == n.phone:
                self.store.notify.arrive(d.id, by=by, actor=actor, now=now)
        self._apply(self.engine.arrived(n.alarm, n.who, now))
        self._changed(n.alarm)

    # --- doing what the engine says ---------------------------------------------------------

    def _apply(self, actions: list[Action]) -> None:
        """Store the actions in one transaction, then send the new messages, take back the
        withdrawn, tell the hub and the consoles. If the store fails, the engine is rebuilt from
        the rows, so what did not happen is planned again."""
        if not actions:
            return
        try:
            applied = self.store.notify.apply(actions, self._clock())
        except db_errors():
            log.error("notifications could not be stored; planning again from the database")
            self._restore_quietly()
            raise
        unsent = [row for row in applied.new if not self._submit(row)]
        for key, channel in applied.withdrawn:
            if (w := self.workers.get(channel)) is not None:
                w.withdraw(key)
        for a in actions:
            if isinstance(a, TellHub):
                self._tell_hub(a.alarm, wire.Accepted(
                    name=a.person.name[:64], relation=a.person.relation_for_elder(self.language)[:64]))
        for alarm in dict.fromkeys(a.alarm for a in actions):
            self._changed(alarm)
        self._woken.set()
        if unsent:
            self._give_up([(row.id, self._unsendable(row)) for row in unsent])

    def _restore_quietly(self) -> None:
        try:
            self._restore()
        except db_errors():
            log.exception("the notifications could not be read back either")

    def _submit(self, row: NotificationRow) -> bool:
        """Hand a stored message to its channel's worker; False when it cannot go at all."""
        worker = self.workers.get(row.channel)
        if worker is None:
            return False
        msg = Message(key=row.id, text=row.text, priority=row.priority, alarm_id=row.alarm,
                      to=(row.phone,) if row.phone else (), created=row.created)
        try:
            worker.submit(msg, not_before=row.next_try)
        except ChannelError:  # it can never go (too long)
            return False
        return True

    def _unsendable(self, row: NotificationRow) -> ChannelError:
        """Why a stored message cannot go at all: no such channel, or the channel refuses it."""
        worker = self.workers.get(row.channel)
        if worker is None:
            return ChannelError(f"{row.channel}.not_configured", f"the {row.channel} channel is "
                                "not configured", retryable=False,
                                fix=NOT_CONFIGURED.get(row.channel, ""))
        try:
            worker.channel.posts(Message(key=row.id, text=row.text, to=(row.phone,) if row.phone
                                         else ()))
        except ChannelError as e:
            return e
        return ChannelError(f"{row.channel}.internal", "not queued", retryable=False)

    def _sent(self, msg: Message, sent: Sent) -> None:
        if self.store.notify.sent(msg.key, sent.at) and msg.alarm_id:
            self._changed(msg.alarm_id)

    def _retrying(self, msg: Message, error: ChannelError, tries: int, at: float) -> None:
        self.store.notify.retrying(msg.key, attempts=tries, next_try=at, code=error.code,
                                   error=error.text, fix=error.fix)
        if msg.alarm_id:
            self._changed(msg.alarm_id)

    def _failed(self, msg: Message, error: ChannelError) -> None:
        self._give_up([(msg.key, error)])

    def _give_up(self, failures: list[tuple[str, ChannelError]]) -> None:
        """Messages that will not go: marked failed (one transaction); a cascade waiting on one
        moves on."""
        for key, error in failures:
            log.warning("notification %s not sent: %s", key, error)
        rows = self.store.notify.failed(failures)
        now = self._clock()
        actions: list[Action] = []
        for row in rows:
            if row.topic == "alarm" and row.phone:
                actions += self.engine.failed(row.alarm, row.step, row.phone, now)
        self._apply(actions)
        for alarm in dict.fromkeys(row.alarm for row in rows):
            self._changed(alarm)

    def _trouble(self, channel: str, t: Trouble | None) -> None:
        before = self.trouble.get(channel)
        if t is None:
            self.trouble.pop(channel, None)
        else:
            self.trouble[channel] = t
        if before != t:
            if t is None:
                log.warning("notifications by %s work again", channel)
                if (w := self.workers.get(channel)) is not None:
                    w.resume()
            else:
                log.error("notifications by %s cannot go: %s (%s); fix: %s", channel, t.problem,
                          t.code, t.fix)
            self._trouble_changed()

    # --- what the engine is told of an alarm --------------------------------------------------

    def _case(self, a: AlarmRow) -> Case:
        label = self.rules.kind_label(a.kind)
        return Case(a.id, a.kind, a.priority, a.received,
                    about(a.elder, hub=a.hub, kind={"zh_CN": label.zh_CN, "en": label.en},
                          location=a.location, received=a.received),
                    people(a.elder, self._responders), claimed=a.claimed_by is not None,
                    escalated=a.escalated is not None)

    def _outcome(self, a: AlarmRow) -> str | None:
        """The label of a resolution's outcome; None for an alarm cancelled at home."""
        if a.state is AlarmState.CANCELLED or not a.outcome:
            return None
        try:
            return self.rules.outcome(a.outcome).text(self.language)
        except KeyError:
            return a.outcome



def _told_by_hub(told: object, now: float) -> tuple[list[tuple[Person, float]], list[dict[str, object]]]:
    """A hub's word on whom it texted (hostile input like any): those it sent to, with a
    mobile and a time no later than now; the failed ones apart."""
    ok: list[tuple[Person, float]] = []
    failed: list[dict[str, object]] = []
    for t in told if isinstance(told, list) else []:
        if not isinstance(t, dict):
            continue
        number = mobile(str(t.get("phone", "")))
        if not number:
            continue
        if t.get("sent") is not True:
            failed.append(t)
            continue
        at = t.get("at")
        when = min(float(at), now) if isinstance(at, int | float) and at > 0 else now
        ok.append((Person(str(t.get("name", ""))[:32] or number, number,
                          str(t.get("role", "contact"))[:32], str(t.get("relation", ""))[:32]), when))
    return ok, failed
