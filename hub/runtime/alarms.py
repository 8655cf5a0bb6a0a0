"""The home's alarms as the hub follows them, from raised to closed.

Persist first, then tell: an alarm is in the outbox (``synchronous=FULL``) before the elder
hears it was sent. A pre-alarm (a fall while the elder is asked) is held on disk in its
window; the rules release or cancel it, a restart releases it. The elder's cancel gesture
ends their own recent calls that no officer has taken and hushes the siren. An alarm the
station has not acknowledged within ``escalate_s`` is escalated at home ("still trying",
the siren) while the uplink keeps retrying. The station's acknowledgements and steps are
told to the elder, who is reassured every ``reassure_s`` while a call waits for an officer.
Times stored for an open alarm are moved by the clock steps seen since
(:mod:`hub.runtime.clockjump`), so its age is a real duration.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from drivers.gpio.siren import Siren
from hub.common import wire
from hub.common.events import AlarmState, Event
from hub.rules.actions import RaiseAlarm
from hub.rules.feedback import (
    Reassurance,
    Say,
    ShowLed,
    Standing,
    cancel_gesture,
    elder_facing,
    feedback,
    pressed_again,
    reassured,
)
from hub.runtime.clockjump import Clock
from hub.runtime.config import HubConfig
from hub.runtime.indicators import Indicators
from hub.runtime.outbox import Outbox

log = logging.getLogger(__name__)


class HomeAlarms:
    def __init__(self, cfg: HubConfig, outbox: Outbox, indicators: Indicators, clock: Clock,
                 siren: Siren | None) -> None:
        self._outbox, self.store = outbox, outbox.store
        self._show, self._clock, self._siren = indicators, clock, siren
        self._cfg = cfg
        self.reassure = Reassurance(cfg.reassure_s)  # please_wait while a call waits for an officer
        self._escalated: set[str] = set()  # alarms the elder was told are not acknowledged yet
        self._coming: set[tuple[str, str]] = set()  # (alarm, name): the elder was told who is coming
        # open alarm -> clock steps seen by the time it was raised / sent
        self._steps_raised: dict[str, float] = {}
        self._steps_sent: dict[str, float] = {}
        self.on_raised: Callable[[Event], None] | None = None  # for instrumentation

    def restore(self) -> None:
        """After a restart, show where things stand."""
        for alarm in self.store.open_alarms():
            if elder_facing(alarm.kind):
                self._show.apply([a for a in feedback(alarm.state) if isinstance(a, ShowLed)])
            if alarm.state is AlarmState.DELIVERED and reassured(alarm.kind):
                self.reassure.waiting(alarm.id, time.monotonic())

    def open_call(self) -> str | None:
        """The elder's open call for help, if there is one."""
        return self.store.open_alarm("panic")

    def asking(self) -> bool:
        """The elder is being asked (a fall in its window) or their call is open: a button
        held now means "cancel"."""
        return bool(self.store.held() or self.open_call())

    # --- raised at home --------------------------------------------------------------------

    def raise_alarm(self, ev: Event, *, priority: int | None = None, contact_id: int | None = None) -> None:
        """Persist first (synchronous=FULL); only then publish and tell the elder."""
        self._outbox.raise_alarm(ev, priority=priority, contact_id=contact_id)
        log.info("alarm %s raised: %s from %s", ev.id, ev.alarm, ev.source)
        self._steps_raised[ev.id] = self._steps_sent[ev.id] = self._clock.steps
        self._show.alarm(str(ev.alarm), AlarmState.SENT)
        if self.on_raised:
            self.on_raised(ev)

    def rule_raised(self, a: RaiseAlarm) -> str | None:
        """A rule's alarm: raised, or held in its window. One of its kind from that device
        still open (a battery still low after a restart, a second fall) is not raised again:
        the station hears the repeat, and its id is returned."""
        ev = a.event
        if same := self.store.open_alarm(str(ev.alarm), ev.source):
            self._outbox.send(dataclasses.replace(ev, alarm=None, data={**ev.data, "ref": same}),
                              "telemetry")
            return same
        if a.hold:
            self._outbox.hold(ev, priority=a.priority, contact_id=a.contact_id)
            self._steps_raised[ev.id] = self._clock.steps
            log.info("alarm %s held: %s from %s (%s)", ev.id, ev.alarm, ev.source, a.rule)
        else:
            self.raise_alarm(ev, priority=a.priority, contact_id=a.contact_id)
        return None

    def release(self, alarm_id: str) -> None:
        """A held pre-alarm goes out: its window ran out, or a restart ended it."""
        if not self._outbox.release(alarm_id):
            return
        log.info("alarm %s released to the station", alarm_id)
        self._steps_sent[alarm_id] = self._clock.steps
        self._show.alarm(self.store.kind_of(alarm_id) or "", AlarmState.SENT)

    def release_held(self) -> None:
        """At start: a restart ended their windows; better sent than lost."""
        for held in self.store.held():
            self.release(held)

    def cancel_held(self, alarm_id: str, source: str, by: str) -> None:
        """A pre-alarm cancelled in its window: the station gets it and its cancellation."""
        if self._outbox.cancel_held(alarm_id, source, by):
            self._forget_steps(alarm_id)
            log.info("alarm %s cancelled in its window (%s)", alarm_id, by)

    def cancel(self, ev: Event, before: float, quiet: bool = False) -> None:
        """The elder's cancel gesture: ends their own recent calls that no officer has taken,
        and hushes the siren (the hazard alarm itself stays with the station). Held
        pre-alarms (a fall being asked about) are the rules' to cancel. ``quiet``: the
        gesture did something else (ended a window, hung up), so no "cannot cancel"."""
        if self._siren and self._siren.pattern:
            self._siren.silence()
        standing = [Standing(a.id, a.kind, a.state,
                             self._clock.moved(a.raised, self._steps_raised.get(a.id)))
                    for a in self.store.open_alarms()]
        victims, why_not = cancel_gesture(standing, at=ev.ts, pressed=before,
                                          window_s=self._cfg.cancel_window_s)
        if not victims:
            if not quiet:
                self._show.apply(why_not)
                self.reassure.told(time.monotonic())
            return
        for i in victims:
            self._outbox.cancel(i, ev.source, ev.ts, ev.kind)
            self._escalated.discard(i)
            self.reassure.done(i)
            self._forget_steps(i)
            log.info("alarm %s cancelled at home (%s)", i, ev.kind)
        self._show.apply(feedback(AlarmState.CANCELLED, others_open=bool(self.store.open_alarms())))

    def pressed_again(self, ev: Event) -> None:
        """A press during the open call: in the alarm lane (after the call, durable, never
        behind telemetry), and the elder hears at once where the call stands."""
        self._outbox.send(ev, "alarm")
        ref = str(ev.data["ref"])
        state = next((a.state for a in self.store.open_alarms() if a.id == ref), None)
        log.info("call %s pressed again (%s)", ref, state.value if state else "closed")
        if state:
            self._show.apply(pressed_again(state))
            self.reassure.told(time.monotonic())

    # --- waiting for the station -----------------------------------------------------------

    def escalate(self, now: float | None = None) -> None:
        """No station acknowledgement within escalate_s: the hub keeps retrying (the uplink
        does), tells the elder it is still trying, and sounds its siren."""
        now = self._clock.now() if now is None else now
        cutoff = now - self._cfg.link.escalate_s
        for a in self.store.open_alarms():
            # a clock step since it was sent moved "now", not the moment it was sent
            sent = None if a.sent is None else self._clock.moved(a.sent, self._steps_sent.get(a.id))
            if (a.state is AlarmState.SENT and sent is not None and sent <= cutoff
                    and a.id not in self._escalated and elder_facing(a.kind)):
                self._escalated.add(a.id)
                log.warning("alarm %s not acknowledged by the station after %.0f s: still trying",
                            a.id, now - sent)
                self._show.apply([Say("still_trying"), ShowLed("fault")])
                if self._siren and not self._siren.pattern:
                    self._siren.sound("panic")

    def tick(self) -> None:
        """The rules' loop came round: escalate what is late, reassure who waits."""
        self.escalate()
        self._show.apply(self.reassure.tick(time.monotonic()))

    def reassure_delay(self) -> float | None:
        due = self.reassure.next_deadline()
        return None if due is None else due - time.monotonic()

    # --- the station's answers -------------------------------------------------------------

    def delivered(self, ids: list[str], station_ts: float) -> bool:
        """The station stored these; True if an elder now waits for an officer (the rules'
        loop has a new deadline: the reassurance)."""
        waits = False
        for i in self.store.ack(ids, station_ts):
            if self.store.advance(i, AlarmState.DELIVERED, station_ts):
                log.info("alarm %s delivered to the station", i)
                if i in self._escalated:
                    self._escalated.discard(i)
                    if self._siren and self._siren.pattern == "panic":
                        self._siren.silence()
                kind = self.store.kind_of(i) or ""
                self._show.alarm(kind, AlarmState.DELIVERED)
                if reassured(kind):
                    self.reassure.waiting(i, time.monotonic())
                    waits = True
        return waits

    def station_update(self, u: wire.AlarmUpdate) -> None:
        if u.state.closed:
            self._forget_steps(u.id)
            self._coming = {c for c in self._coming if c[0] != u.id}
        if u.state is not AlarmState.DELIVERED:  # taken, or closed: the elder stops waiting
            self.reassure.done(u.id)
        if self.store.advance(u.id, u.state, u.ts):
            log.info("alarm %s %s at the station%s", u.id, u.state.value,
                     f" by {u.officer}" if u.officer else "")
            self._show.alarm(self.store.kind_of(u.id) or "", u.state)
        if u.accepted and (u.id, u.accepted.name) not in self._coming and \
                elder_facing(self.store.kind_of(u.id) or "") and \
                any(a.id == u.id for a in self.store.open_alarms()):
            self._coming.add((u.id, u.accepted.name))
            said = self._show.say_accepted(u.accepted.name, u.accepted.relation)
            log.info("alarm %s: %s accepted and is coming; the elder hears: %s", u.id,
                     u.accepted.name, said)
            self.reassure.told(time.monotonic())

    def in_call(self, alarm: str | None) -> None:
        """The call's microphone opened: on an alarm, the elder stops waiting for it."""
        if alarm:
            self.reassure.done(alarm)
        if alarm and self.store.advance(alarm, AlarmState.IN_CALL, time.time()):
            self._show.alarm(self.store.kind_of(alarm) or "", AlarmState.IN_CALL)
        else:
            self._show.apply([ShowLed("talking")])

    def _forget_steps(self, alarm: str) -> None:
        self._steps_raised.pop(alarm, None)
        self._steps_sent.pop(alarm, None)
