"""The duty desk: the alarm queue, the selected elder's card, and the roster of homes.

It reads the station database (read-only) and re-reads a row whenever the station service
announces a change; claims and resolutions are requests to the service, which alone writes.
So any number of consoles can run, and a claim by one shows at once in the others. Enter on
an alarm (or claiming it) opens the alarm screen, where the officer works through the county's
response plan. With a headset, the officer calls the home of a claimed alarm, or visits a home
from the roster online. New alarms ring the terminal bell and sound a tone pattern per
priority through the headset; an alarm left unclaimed past the station's limit flashes and
sounds again until someone takes it. An alarm is closed as on-site help only once its record
says who was sent and when they arrived (``d`` and ``A`` on the alarm screen, or their reply).

The keys are the app's (console/tui/app.py), which also work on the alarm screen; the desk
does what they ask of the alarm or home selected here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from console.casework.county import CountyRules
from console.station.config import StationConfig
from console.station.store.reader import StationReader
from console.station.store.rows import CANCELLED_AT_HOME, AlarmRow
from console.station.users import Role
from console.tui.alarm_sound import REPEAT_S, Ringer
from console.tui.client import StationClient
from console.tui.i18n import Texts
from console.tui.kept_notes import KeptNotes
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.resolve import ResolveScreen
from console.tui.widgets.alarm_queue import AlarmQueue, QueueFilter
from console.tui.widgets.call_bar import CallBar
from console.tui.widgets.elder_card import ElderCard
from console.tui.widgets.fmt import elder_name
from console.tui.widgets.header import ZonedHeader
from console.tui.widgets.roster import Roster
from console.tui.widgets.station_banner import StationBanner
from console.tui.widgets.vtable import VirtualTable
from hub.common import linejson, wire
from hub.common.events import AlarmState

ONSITE_HELP = "onsite_help"  # the shipped county outcome "已派人上门处置": needs its dispatch on record


class Console(Protocol):
    """What the desk uses of the app: its services, and what it does for every screen."""

    cfg: StationConfig
    rules: CountyRules
    texts: Texts
    clock: Callable[[], float]
    store: StationReader
    client: StationClient
    ringer: Ringer
    notes: KeptNotes
    demo_dir: Path | None
    user: str  # the officer logged in
    role: Role
    on_alarm_shown: Callable[[str], None] | None  # instrumentation: an alarm shown, by id

    @property
    def session(self) -> wire.SessionInfo | None: ...
    @property
    def alarm_screen(self) -> AlarmScreen | None: ...
    def refused(self, reply: wire.Reply) -> None: ...
    async def note(self, alarm: str, text: str) -> bool: ...
    async def call(self, hub: str, alarm: str | None = None) -> None: ...


class DeskScreen(Screen[None]):
    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.up = asyncio.Event()  # set once mounted: the app then starts what draws on it
        self._rung_escalated: set[str] = set()  # alarms whose escalation was announced
        self._last_repeat = 0.0
        self._resolve_drafts: dict[str, tuple[str, str]] = {}  # alarm -> a refused resolve's

    def compose(self) -> ComposeResult:
        c = self.console
        t = c.texts
        yield ZonedHeader(c.rules.tz, c.clock)
        yield StationBanner(always=True, id="banner")
        yield CallBar(id="callbar")
        yield Static(t("alarms"), classes="section", id="alarms-title")
        yield QueueFilter(placeholder=t("desk_filter"), id="queue-filter", classes="hidden")
        self.queue = AlarmQueue(t, c.cfg.escalate_after_s, clock=c.clock, id="queue")
        yield self.queue
        self.card = ElderCard(id="card")
        yield self.card
        yield Static(t("homes"), classes="section", id="homes-title")
        self.roster = Roster(t, id="roster")
        self.roster.read = lambda hub: self.console.store.home(hub)  # heartbeats are not
        yield self.roster  # announced: read when drawn
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.up.set()

    @property
    def callbar(self) -> CallBar:
        return self.query_one("#callbar", CallBar)

    def show(self) -> None:
        """Everything from the database (at login), the queue to work with."""
        self.show_queue()
        self.roster.show(self.console.store.homes())
        self.show_card()
        self.queue.focus()

    def show_queue(self) -> None:
        """The open alarms, each with the responders sent to it, from the database."""
        store = self.console.store
        alarms = store.open_alarms()
        self.queue.show(alarms, store.notify.dispatches_of(a.id for a in alarms))

    def current_alarm(self) -> AlarmRow | None:
        """The alarm the keys act on: the open alarm screen's, else the queue's selection."""
        screen = self.console.alarm_screen
        return screen.alarm if screen else self.queue.selected

    # --- live updates ---------------------------------------------------------------------

    def changed(self, msg: wire.Changed) -> None:
        """The station changed a home or an alarm: read it again, and ring for a new alarm."""
        c = self.console
        if msg.what == "home":
            if home := c.store.home(msg.id):
                self.roster.update_home(home)
            if any(a.hub == msg.id for a in self.queue._all):  # its record, edited: read it again
                self.show_queue()
                self.show_card()
            if (screen := c.alarm_screen) and screen.alarm.hub == msg.id:
                screen.reload()
            return
        before = next((a for a in self.queue._all if a.id == msg.id), None)
        known = before is not None
        self.show_queue()
        self.show_card()
        alarm = c.store.alarm(msg.id)
        if (screen := c.alarm_screen) and msg.id == screen.alarm_id:
            screen.reload()
        t = c.texts
        if alarm and not known and not alarm.state.closed:
            c.ringer.ring(alarm.priority)
            self.notify(t("new_alarm", name=elder_name(alarm, t), kind=t(f"kind_{alarm.kind}")),
                        severity="error" if alarm.priority == 1 else "warning")
            if c.on_alarm_shown:
                hook = c.on_alarm_shown
                self.app.call_after_refresh(hook, msg.id)
        elif alarm and before and not alarm.state.closed and alarm.pressed > before.pressed:
            # the elder pressed again: ring as for a new alarm, it is more urgent now
            c.ringer.ring(alarm.priority)
            self.notify(t("desk_pressed_again_toast", name=elder_name(alarm, t), n=alarm.pressed),
                        severity="error")
        elif alarm and known and alarm.outcome == CANCELLED_AT_HOME:  # gone from the queue: say why
            self.notify(t("cancelled_at_home_toast", name=elder_name(alarm, t),
                          kind=t(f"kind_{alarm.kind}")))

    def tick(self) -> None:
        self.queue.tick()
        self._escalation()
        self.roster.tick()

    def _escalation(self) -> None:
        """Announce each alarm that escalates once (notice, supervisor flag), and sound the
        most urgent escalated one every ``REPEAT_S`` until all are claimed."""
        c = self.console
        late = self.queue.escalated()
        for a in late:
            if a.id not in self._rung_escalated:
                self._rung_escalated.add(a.id)
                self.notify(c.texts("desk_escalated", name=elder_name(a, c.texts),
                                    kind=c.texts(f"kind_{a.kind}")), severity="error")
                self._last_repeat = 0.0
        now = c.clock()
        if late and now - self._last_repeat >= REPEAT_S:
            self._last_repeat = now
            c.ringer.ring(min(a.priority for a in late))

    def show_card(self) -> None:
        c, a = self.console, self.queue.selected
        self.card.show(a, c.store.alarm_log(a.id) if a else [], c.texts,
                       c.store.alarm_calls(a.id) if a else [], now=c.clock())

    def relabel(self) -> None:
        """In the console's language, as it is now."""
        t = self.console.texts
        self.queue.relabel(t)
        self.roster.relabel(t)
        self.query_one("#alarms-title", Static).update(t("alarms"))
        self.query_one("#homes-title", Static).update(t("homes"))
        self.query_one("#queue-filter", Input).placeholder = t("desk_filter")
        self.show_card()

    @on(VirtualTable.Highlighted, "#queue")
    def _highlighted(self) -> None:
        self.show_card()

    @on(VirtualTable.Chosen, "#queue")
    def _selected(self) -> None:
        self.open_alarm()

    def filter(self) -> None:
        """Show the queue's filter box: the queue narrows as the officer types."""
        box = self.query_one("#queue-filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Changed, "#queue-filter")
    def _filter(self, event: Input.Changed) -> None:
        self.queue.set_filter(event.value)

    @on(Input.Submitted, "#queue-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.add_class("hidden")
        self.queue.focus()

    # --- the officer's work on an alarm ---------------------------------------------------

    def open_alarm(self) -> None:
        """Open the alarm screen of the selected alarm."""
        c, a = self.console, self.queue.selected
        if a is None:
            self.notify(c.texts("select_alarm"), severity="warning")
        elif c.alarm_screen is None:
            self.app.push_screen(AlarmScreen(a, c.store, c.rules, c.texts, self._request, c.note,
                                             c.notes.of, escalate_after_s=c.cfg.escalate_after_s,
                                             clock=c.clock, user=c.user))

    async def _request(self, op: str, alarm: str, **fields: object) -> wire.Reply:
        """The alarm screen's requests, a refusal reported."""
        reply = await self.console.client.request(op, alarm, **fields)  # type: ignore[arg-type]
        if not reply.ok:
            self.console.refused(reply)
        return reply

    async def claim(self) -> None:
        """Claim the alarm (the station makes it atomic) and open its screen."""
        c, a = self.console, self.current_alarm()
        if a is None:
            self.notify(c.texts("select_alarm"), severity="warning")
            return
        reply = await c.client.request("claim", a.id)
        if reply.code == "taken" and (now := c.store.alarm(a.id)) and now.officer:
            self.notify(c.texts("err_taken_by", name=now.officer), severity="error")  # say who
            return
        self._report(reply, "claimed_ok", elder_name(a, c.texts))
        if reply.ok:
            if screen := c.alarm_screen:
                screen.reload()
            else:
                self.open_alarm()

    def resolve(self) -> None:
        c, a = self.console, self.current_alarm()
        if a is None:
            self.notify(c.texts("select_alarm"), severity="warning")
            return
        if a.state is AlarmState.DELIVERED:  # the station would refuse, after the notes were typed
            self.notify(c.texts("resolve_not_claimed"), severity="warning")
            return
        takeover = a.claimed_by is not None and a.claimed_by != c.user
        if takeover and not c.role.may_take_over:
            self.notify(c.texts("claimed_by_other", name=a.officer), severity="warning")
            return

        async def done(result: tuple[str, str] | None) -> None:
            if result:
                outcome, notes = result
                if outcome == ONSITE_HELP and (missing := self._onsite_missing(a.id)):
                    self.notify(missing, severity="warning", timeout=10)
                    self._resolve_drafts[a.id] = result  # asked again with it once recorded
                    return
                reply = await c.client.request("resolve", a.id, outcome=outcome, notes=notes)
                self._report(reply, "resolved_ok", " · ".join((
                    elder_name(a, c.texts), c.texts(f"kind_{a.kind}"), dict(outcomes)[outcome])))
                if not reply.ok:  # refused (the station down?): asked again, what was typed is there
                    self._resolve_drafts[a.id] = result
                    return
                self._resolve_drafts.pop(a.id, None)
                if (screen := c.alarm_screen) and screen.alarm_id == a.id:
                    screen.dismiss(None)

        outcomes = [(o, c.rules.outcome(o).text(c.texts.language))
                    for o in c.rules.plan(a.kind).outcomes]
        self.app.push_screen(ResolveScreen(c.texts, elder_name(a, c.texts), outcomes,
                                           takeover=takeover, draft=self._resolve_drafts.get(a.id)),
                             done)

    def _onsite_missing(self, alarm: str) -> str | None:
        """Why the alarm cannot be closed as on-site help yet: its record must say who was sent
        and when they arrived (the ledger times the promise by them); None when it does."""
        t, ds = self.console.texts, self.console.store.notify.dispatches(alarm)
        if not ds:
            return t("resolve_needs_dispatch")
        waiting = [d.name for d in ds if d.arrived is None]
        return t("resolve_needs_arrival", names="、".join(waiting)) if waiting else None

    def _report(self, reply: wire.Reply, ok_key: str, name: str) -> None:
        if reply.ok:
            self.notify(self.console.texts(ok_key, name=name))
        else:
            self.console.refused(reply)

    async def answer(self) -> None:
        """Call the home of the selected alarm, which must be claimed by this officer."""
        c, a = self.console, self.current_alarm()
        if a is None:
            self.notify(c.texts("select_alarm"), severity="warning")
        elif a.claimed_by != c.user or a.state not in (AlarmState.CLAIMED, AlarmState.IN_CALL):
            self.notify(c.texts("call_not_claimed"), severity="warning")
        else:
            await c.call(a.hub, alarm=a.id)

    async def visit(self) -> None:
        """An online visit: call the home selected in the roster (it hears the chime first)."""
        hub = self.roster.selected
        if hub is None:
            self.notify(self.console.texts("select_home"), severity="warning")
        else:
            await self.console.call(hub)

    def press(self) -> None:
        """Demo mode: press the call button of the home selected in the roster."""
        c = self.console
        if c.demo_dir is None:
            self.notify(c.texts("demo_only"), severity="warning")
            return
        hub = self.roster.selected
        if hub is None:
            self.notify(c.texts("select_home"), severity="warning")
            return
        self._press(c.demo_dir / "hubs" / hub / "sim.sock", hub)

    @work(exclusive=False)
    async def _press(self, sock: Path, hub: str) -> None:
        try:
            await asyncio.to_thread(linejson.call, sock, "press")
            self.notify(self.console.texts("pressed", hub=hub))
        except linejson.SimError as e:
            self.notify(str(e), severity="error")
