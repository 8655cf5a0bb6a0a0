"""The card of the selected alarm: who, where, how to get there, whom to call, and the voice
calls made on it with their recordings; ``elder_details`` is the full record the alarm screen
shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from rich.text import Text
from textual.widgets import Static

from console.casework.category import effective
from console.casework.county import CountyRules
from console.casework.elder import Contact, ElderRecord
from console.station.calls import CALL_ENDED, CallRow
from console.station.notify.engine import (
    NOTE_ACCEPTED,
    NOTE_ARRIVED,
    NOTE_EXHAUSTED,
    NOTE_HELD,
    NOTE_NO_MOBILE,
    NOTE_NOBODY,
)
from console.station.store.notify import NOTE_DISPATCHED
from console.station.store.rows import CALL_REQUESTED, CANCELLED_AT_HOME, ESCALATED, PRESSED_AGAIN, AlarmRow
from console.tui.i18n import Texts
from console.tui.widgets.fmt import duration, elder_name
from hub.common.events import AlarmState

NOTES = (CANCELLED_AT_HOME, CALL_REQUESTED, ESCALATED, CALL_ENDED, PRESSED_AGAIN,  # alarm_log
         NOTE_ACCEPTED, NOTE_ARRIVED, NOTE_DISPATCHED, NOTE_EXHAUSTED, NOTE_NOBODY, NOTE_HELD,
         NOTE_NO_MOBILE)  # notes that are events; the station's own, and the elder's press, name
UNSIGNED = (ESCALATED, PRESSED_AGAIN, NOTE_EXHAUSTED, NOTE_NOBODY)  # nobody


def timeline_entry(state: AlarmState, who: str | None, note: str | None, t: Texts,
                   outcome: Callable[[str], str] = str) -> str:
    """One entry of an alarm's log, without its time. A coded note is the event itself (the
    state it left unchanged is not repeated); an officer's free note reads as a note, not as
    the state again; a resolution gives its outcome's label and the notes."""
    if note in NOTES:
        return t(f"note_{note}") + (f" {who}" if who and note not in UNSIGNED else "")
    # in a history, "delivered" is the moment the station received it, not a state to wait in
    key = "timeline_delivered" if state is AlarmState.DELIVERED else f"state_{state.value}"
    label = t(key) + (f" {who}" if who and state is not AlarmState.RAISED else "")
    if not note:
        return label
    if state is AlarmState.RESOLVED:
        code, _, notes = note.partition(": ")
        return f"{label}: {outcome(code)}" + (f" · {notes}" if notes else "")
    return f"{t('desk_note_entry')} {who or ''}: {note}"


def call_lines(calls: list[CallRow], t: Texts) -> Text:
    """The voice calls made on an alarm, each with how it ended and its recording."""
    out = Text()
    for c in calls:
        out.append(f"\n{t('card_calls')}: " + t(
            "card_call", time=t.clock(c.started), officer=c.officer,
            duration=duration(c.duration) if c.duration is not None else "",
            reason=t(f"reason_{c.reason}") if c.reason else t("state_in_call")))
        if c.recording and c.recorded:
            out.append(f"  {t('card_recording')} {c.recording}"
                       + (f" ({t('card_incomplete')})" if c.recording_note else ""), style="dim")
    return out


def person(c: Contact) -> str:
    """A contact as the card lists them: name (relation) phone; no empty brackets."""
    return f"{c.name}({c.relation}) {c.phone}" if c.relation else f"{c.name} {c.phone}"


class ElderCard(Static):
    def show(self, a: AlarmRow | None, log: list[tuple[AlarmState, float, str | None, str | None]],
             t: Texts, calls: list[CallRow] | None = None, *, now: float) -> None:
        if a is None:
            self.update(Text(t("no_alarm"), style="dim"))
            return
        out = Text()
        out.append(f"{elder_name(a, t)}  ", style="bold")
        if a.elder:
            e = a.elder
            if (age := e.age_on(t.day(now))) is not None:
                out.append(t("card_age", n=age) + "  ")
            out.append(t(f"cat_{e.category.value}"), style="bold magenta")
            out.append(f"  {t(f'kind_{a.kind}')}", style="bold red")
            out.append(f"\n{e.address}")
            if e.directions:
                out.append(f"  {t('card_directions')}: {e.directions}", style="dim")
            if a.location:
                out.append(f"\n{t('card_location')}: {a.location}")
            if e.conditions:
                out.append(f"\n{t('card_conditions')}: {', '.join(e.conditions)}")
            if e.contacts:
                people = "; ".join(person(c) for c in e.contacts)
                out.append(f"\n{t('card_contacts')}: {people}")
        steps = "  →  ".join(f"{t.clock(ts)} {timeline_entry(s, who, note, t)}" for s, ts, who, note in log)
        out.append(f"\n{t('card_timeline')}: {steps}", style="cyan")
        out.append(call_lines(calls or [], t))
        self.update(out)


def elder_details(e: ElderRecord, rules: CountyRules, today: date, t: Texts) -> Text:
    """The whole card for the alarm screen, in the order an officer needs it: who (and how to
    recognise them), where and how to get in, why they are in their group, their health, then
    whom to call."""
    lang = t.language
    eff = effective(e, rules, today)
    out = Text()
    out.append(e.name, style="bold")
    if (age := e.age_on(today)) is not None:
        out.append("  " + t("card_age", n=age))
    if e.sex:
        out.append("  " + t(f"desk_sex_{e.sex.value}"))
    out.append(f"  {t(f'cat_{e.category.value}')}", style="bold magenta")
    reasons = "、".join(rules.criterion(k).text(lang) for k in eff.rules.reasons)
    if eff.override:
        why = t("desk_override", reason=eff.override.reason, by=eff.override.by)
    elif eff.category is not e.category:  # stored as homes.yaml gave it, not as the rules say
        why = t("desk_rules_differ", category=t(f"cat_{eff.category.value}"), reasons=reasons)
    else:
        why = reasons
    out.append(f" ({why})", style="magenta")
    if e.identifying:
        out.append(f"\n{t('desk_identifying')}: {e.identifying}")
    out.append(f"\n{t('desk_address')}: {e.address}", style="bold")
    if e.directions:
        out.append(f"\n{t('card_directions')}: {e.directions}")
    for key, items in (("card_conditions", e.conditions), ("desk_medicines", e.medicines),
                       ("desk_allergies", e.allergies)):
        if items:
            out.append(f"\n{t(key)}: {', '.join(items)}",
                       style="bold red" if key == "desk_allergies" else "")
    for i, c in enumerate(e.contacts, 1):
        out.append(f"\n{t('desk_contact', n=i)}: {person(c)}")
    for key, who in (("desk_key_holder", e.key_holder), ("desk_grid_worker", e.grid_worker)):
        if who:
            out.append(f"\n{t(key)}: {person(who)}", style="cyan")
    if e.phone:
        out.append(f"\n{t('desk_own_phone')}: {e.phone}")
    return out
