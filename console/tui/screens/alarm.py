"""The alarm screen: everything the officer works an alarm with, on one screen.

Under the title, what happened: the moments the alarm counts, each labelled, and what caused
it (the door that opened and when, the silent sensor, the low battery). Left, what to know:
the elder's whole card, the home's live state, earlier alarms of the home
and how they ended. Right, what to do: the county's response plan for this alarm type as a
checklist (each step stamped at the station with its time), free notes, the people told
outside the station (widgets/notify_panel.py: each responder dispatched with the timer against
the promise, each message with what became of it), and the timeline of what was done (with the
notes this console keeps until the station can take them). ``d`` dispatches a responder, ``A``
and ``k`` record an arrival or an acceptance the officer heard of by phone (told.py says who
can be chosen); the station does each, and says why when it will not. Claim, resolve and the
call controls are the app's keys and work here too. It reads the station database like the
rest of the console and is redrawn when the station says the alarm or the home changed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from console.casework.county import CountyRules
from console.station.calls import CallRow
from console.station.store.notify import DispatchRow, NotificationRow, ResponderRow
from console.station.store.rows import AlarmRow, HomeState, StepRow
from console.tui.i18n import Texts
from console.tui.kept_notes import KeptNote
from console.tui.screens.pick import PickScreen
from console.tui.told import Choice, acceptance_choices, arrival_choices, dispatch_choices
from console.tui.widgets.alarm_facts import alarm_facts
from console.tui.widgets.alarm_queue import PRIORITY_STYLE, is_escalated
from console.tui.widgets.bounded import BoundedInput
from console.tui.widgets.call_bar import CallBar
from console.tui.widgets.checklist import Checklist
from console.tui.widgets.elder_card import call_lines, elder_details, timeline_entry
from console.tui.widgets.fmt import duration, elder_name
from console.tui.widgets.home_state import home_state_text
from console.tui.widgets.notify_panel import notify_panel
from hub.common import wire
from hub.common.events import AlarmState

# StationClient.request(op, alarm, **fields), reporting a refusal itself (the app's, which also
# asks for a new login when the session ended)
Request = Callable[..., Awaitable[wire.Reply]]
# the app's: send a note, or keep it while the station cannot take it; True: sent or kept
Note = Callable[[str, str], Awaitable[bool]]


class NotifyReads(Protocol):
    """The people told, as the station database has them (StationReader.notify)."""

    def for_alarm(self, alarm: str) -> list[NotificationRow]: ...
    def dispatches(self, alarm: str) -> list[DispatchRow]: ...
    def responders(self, *, active_only: bool = True) -> list[ResponderRow]: ...


class DeskReads(Protocol):
    """The station database's reads this screen needs (StationReader)."""

    @property
    def notify(self) -> NotifyReads: ...

    def alarm(self, id: str) -> AlarmRow | None: ...
    def alarm_data(self, alarm: str) -> dict[str, Any]: ...
    def alarm_log(self, id: str) -> list[tuple[AlarmState, float, str | None, str | None]]: ...
    def home_state(self, hub: str) -> HomeState | None: ...
    def alarm_steps(self, alarm: str) -> list[StepRow]: ...
    def alarm_history(self, hub: str, limit: int = 50) -> list[AlarmRow]: ...
    def alarm_calls(self, alarm: str) -> list[CallRow]: ...


class AlarmScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("space", "stamp", "step"),
        Binding("n", "note", "note"),
        # shown once the alarm is this officer's (they work without: the station says why not)
        Binding("d", "dispatch", "dispatch", show=False),
        Binding("A", "arrival", "arrived", show=False),
        Binding("k", "accept", "accepted", show=False),
    ]
    MINE = ("dispatch", "arrival", "accept")

    def __init__(self, alarm: AlarmRow, store: DeskReads, rules: CountyRules, texts: Texts,
                 request: Request, note: Note, kept: Callable[[str], list[KeptNote]], *,
                 escalate_after_s: float = 60.0, clock: Callable[[], float] = time.time,
                 user: str = "") -> None:
        """``user``: the officer logged in (the keys of an alarm they claimed show)."""
        super().__init__()
        self.alarm, self.store, self.rules, self.texts = alarm, store, rules, texts
        self.request, self.note, self.kept = request, note, kept
        self.escalate_after_s, self.clock, self.user = escalate_after_s, clock, user
        self._home: HomeState | None = None
        self._messages: list[NotificationRow] = []
        self._dispatches: list[DispatchRow] = []

    @property
    def alarm_id(self) -> str:
        return self.alarm.id

    def compose(self) -> ComposeResult:
        yield Header()  # the time that matters here is the alarm's, in the title
        yield CallBar(id="alarm-callbar")
        yield Static(id="alarm-title")
        yield Static(id="alarm-facts")
        with Horizontal(id="alarm-body"):
            with VerticalScroll(id="alarm-left"):
                yield Static(id="alarm-card")
                yield Static(classes="section", id="home-title")
                yield Static(id="alarm-home")
                yield Static(classes="section", id="history-title")
                yield Static(id="alarm-history")
            with Vertical(id="alarm-right"):
                yield Static(classes="section", id="plan-title")
                yield Checklist(id="checklist")
                yield Static(id="plan-hint")
                yield BoundedInput(self.texts, max_length=wire.TEXT_MAX, id="alarm-note")
                with VerticalScroll(id="notify-box", classes="hidden"):
                    yield Static(classes="section", id="notify-title")
                    yield Static(id="alarm-notify")
                yield Static(id="alarm-timeline")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.relabel(self.texts)
        self.query_one(Checklist).focus()
        self.set_interval(1.0, self._tick)

    def relabel(self, texts: Texts) -> None:
        """Draw everything again in ``texts``' language (also after a language switch)."""
        self.texts = t = texts
        for key in ("back", "stamp", "note", "dispatch", "arrival", "accept"):
            self._relabel(key, t(f"desk_bind_{key}"))
        self.query_one("#home-title", Static).update(t("desk_home_state"))
        self.query_one("#notify-title", Static).update(t("notify_title"))
        self.query_one("#history-title", Static).update(t("desk_history"))
        note = self.query_one("#alarm-note", BoundedInput)
        note.texts, note.placeholder = t, t("desk_note_placeholder")
        self.reload()

    def _relabel(self, action: str, label: str | None = None, show: bool | None = None) -> None:
        for key, bindings in list(self._bindings.key_to_bindings.items()):
            self._bindings.key_to_bindings[key] = [
                replace(b, description=b.description if label is None else label,
                        show=b.show if show is None else show)
                if b.action == action else b for b in bindings]

    def reload(self) -> None:
        """Read the alarm, its steps, the home and its history again from the database."""
        t, now = self.texts, self.clock()
        self.alarm = self.store.alarm(self.alarm.id) or self.alarm
        a = self.alarm
        plan = self.rules.plan(a.kind)
        self.query_one("#plan-title", Static).update(
            f"{t('desk_plan')} · {plan.label.text(t.language)}")
        self.query_one(Checklist).show(plan, self.store.alarm_steps(a.id), t)
        self._hint()
        card = elder_details(a.elder, self.rules, t.day(now), t) if a.elder else \
            Text(elder_name(a, t), style="bold")
        if a.location:
            card.append(f"\n{t('card_location')}: {a.location}")
        self.query_one("#alarm-card", Static).update(card)
        self._home = self.store.home_state(a.hub)
        self.query_one("#alarm-facts", Static).update(alarm_facts(
            a, self.store.alarm_data(a.id), t, self._home.sensors if self._home else ()))
        self.query_one("#alarm-history", Static).update(self._history())
        self.query_one("#alarm-timeline", Static).update(self._timeline())
        self._messages = self.store.notify.for_alarm(a.id)
        self._dispatches = self.store.notify.dispatches(a.id)
        self.query_one("#notify-box").set_class(not (self._messages or self._dispatches), "hidden")
        mine = a.claimed_by == self.user and not a.state.closed
        if any(b.show != mine for bs in self._bindings.key_to_bindings.values() for b in bs
               if b.action in self.MINE):
            for action in self.MINE:
                self._relabel(action, show=mine)
            self.refresh_bindings()
        self._tick()

    def _tick(self) -> None:
        """Each second: the title's wait, the dispatch timers, and the home's "… ago" (its state
        is read again when the station says the home changed)."""
        self._title()
        self.query_one("#alarm-notify", Static).update(
            notify_panel(self._messages, self._dispatches, self.texts, self.clock()))
        t, now = self.texts, self.clock()
        self.query_one("#alarm-home", Static).update(
            home_state_text(self._home, t, now) if self._home else Text(t("desk_no_home"), style="dim"))

    def _title(self) -> None:
        t, a, now = self.texts, self.alarm, self.clock()
        out = Text()
        out.append(f" P{a.priority} ", style=PRIORITY_STYLE.get(a.priority, ""))
        out.append(f" {t(f'kind_{a.kind}')} · {elder_name(a, t)} · ", style="bold")
        out.append(t(f"state_{a.state.value}"),
                   style="bold red" if a.state is AlarmState.DELIVERED else "bold green")
        if a.officer:
            out.append(f" {a.officer}")
        if a.pressed:
            out.append("  ")
            out.append(t("desk_pressed_again", n=a.pressed), style="bold white on red")
            if a.pressed_last is not None:
                out.append(" " + t("desk_pressed_last", time=t.clock(a.pressed_last)))
        waited = (a.claimed or now) - a.received
        out.append(f"  {t('col_wait')} {duration(waited)}")
        if is_escalated(a, now, self.escalate_after_s):
            out.append(f"  {t('escalated')} {t('desk_supervisor_flag')}",
                       style="bold white on red" if int(now) % 2 else "bold red reverse")
        self.query_one("#alarm-title", Static).update(out)

    def _history(self) -> Text:
        t, out = self.texts, Text()
        past = [h for h in self.store.alarm_history(self.alarm.hub) if h.id != self.alarm.id]
        if not past:
            return Text(t("desk_no_history"), style="dim")
        for h in past:
            day = t.time(h.raised, "%m-%d %H:%M")
            outcome = self._outcome(h.outcome) if h.outcome else t(f"state_{h.state.value}")
            out.append(f"{day} {t(f'kind_{h.kind}')} → {outcome}"
                       + (f" ({h.officer})" if h.officer else "") + "\n")
        out.rstrip()
        return out

    def _outcome(self, code: str) -> str:
        """An outcome's label from the county rules; an old code they no longer list as itself."""
        try:
            return self.rules.outcome(code).text(self.texts.language)
        except KeyError:
            return code

    def _timeline(self) -> Text:
        t, out = self.texts, Text(style="cyan")
        for state, ts, who, note in self.store.alarm_log(self.alarm.id):
            out.append(f"{t.clock(ts)} {timeline_entry(state, who, note, t, self._outcome)}\n")
        for n in self.kept(self.alarm.id):
            out.append(f"{t.clock(n.written)} {t('desk_note_entry')} ({t('desk_note_waiting')}): "
                       f"{n.notes}\n", style="bold yellow")
        out.rstrip()
        out.append(call_lines(self.store.alarm_calls(self.alarm.id), t))
        return out

    # --- actions ----------------------------------------------------------------------------

    def action_back(self) -> None:
        self.dismiss(None)

    def action_stamp(self) -> None:
        if step := self.query_one(Checklist).current:
            self.post_message(Checklist.Stamp(step))

    def action_note(self) -> None:
        self.query_one("#alarm-note", Input).focus()

    @on(DataTable.RowHighlighted, "#checklist")
    def _hint(self) -> None:
        checklist = self.query_one(Checklist)
        step = checklist.current
        self.query_one("#plan-hint", Static).update(checklist.detail(step) if step else "")

    @on(Checklist.Stamp)
    async def _stamp(self, event: Checklist.Stamp) -> None:
        if done := self.query_one(Checklist).done.get(event.step):
            self.notify(self.texts("desk_step_done", time=self.texts.clock(done.ts), officer=done.officer))
            return
        await self._send("alarm_step", self.texts("desk_step_ok"), step=event.step)

    @on(Input.Submitted, "#alarm-note")
    async def _note(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text and await self.note(self.alarm.id, text):
            event.input.value = ""
            self.query_one(Checklist).focus()
            self.reload()

    def action_dispatch(self) -> None:
        """Send a responder: the station texts them and starts the timer against the promise."""
        t = self.texts
        choices = dispatch_choices(self.alarm.elder, self.store.notify.responders(), t)
        if len(choices) == 2:  # 120 and 119 alone: say why nobody else is offered
            self.notify(t("nobody_to_dispatch"), severity="warning")
        self._pick("dispatch", t("pick_dispatch"), choices, "dispatch_sent")

    def action_arrival(self) -> None:
        """Someone is at the door, as the officer heard by phone."""
        choices = arrival_choices(self._messages, self._dispatches, self.texts)
        if not choices:
            self.notify(self.texts("nobody_arriving"), severity="warning")
            return
        self._pick("arrival", self.texts("pick_arrival"), choices, "arrival_recorded")

    def action_accept(self) -> None:
        """Someone told accepted, as the officer heard by phone."""
        choices = acceptance_choices(self._messages, self.texts)
        if not choices:
            self.notify(self.texts("nobody_to_accept"), severity="warning")
            return
        self._pick("acceptance", self.texts("pick_accept"), choices, "accept_recorded")

    def _pick(self, op: str, title: str, choices: list[Choice], ok_key: str) -> None:
        async def chosen(index: str | None) -> None:
            if index is not None:
                c = choices[int(index)]
                await self._send(op, self.texts(ok_key, name=c.name), **c.fields)

        self.app.push_screen(PickScreen(title, [(str(i), c.label) for i, c in enumerate(choices)]),
                             chosen)

    async def _send(self, op: str, done: str, /, **fields: object) -> bool:
        """A request about this alarm, ``done`` said once it is; a refusal is reported by
        ``request``."""
        reply = await self.request(op, self.alarm.id, **fields)
        if not reply.ok:
            return False
        self.notify(done)
        self.reload()
        return True

