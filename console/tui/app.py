"""The duty console: the App, around the duty desk (screens/desk.py).

The App holds what every screen shares: the login (nothing is shown until the officer has
logged in; the station service acts for the logged-in user), the station's status on every
screen's banner, the read-only station database, the line to the station service, the call
line with the officer's headset (``phone``; the call bar shows the call), the ringer, and the
alarm notes kept while the station cannot take them. It routes the keys (one key map for the
desk and the alarm screen, the call controls everywhere) and opens the records screens.

Every screen shows a banner while the station cannot be reached or cannot store
(widgets/station_banner.py); requests are then refused with the reason, and an alarm note is
kept and sent once the station is back (kept_notes.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from console.casework.county import load_county
from console.station.config import StationConfig
from console.station.store.reader import StationReader
from console.station.users import Role
from console.tui.alarm_sound import Ringer
from console.tui.call_line import CallLine
from console.tui.client import StationClient
from console.tui.i18n import STRINGS, Texts
from console.tui.kept_notes import KeptNote, KeptNotes, kept_back
from console.tui.records_context import Records
from console.tui.screens.alarm import AlarmScreen
from console.tui.screens.confirm import ConfirmScreen
from console.tui.screens.desk import DeskScreen
from console.tui.screens.import_records import ImportScreen
from console.tui.screens.ledger import LedgerScreen
from console.tui.screens.login import LoginScreen, reply_text
from console.tui.screens.palette import Palette
from console.tui.screens.roster import RosterScreen
from console.tui.screens.visits import VisitsScreen
from console.tui.widgets.call_bar import CallBar
from console.tui.widgets.fmt import elder_name
from console.tui.widgets.station_banner import StationBanner, station_key
from hub.common import wire
from hub.common.language import Language
from hub.voice.call_audio import Phone

RECORDS_SCREENS = {"roster": "desk_cmd_roster", "visits": "desk_cmd_visits",
                   "ledger": "bind_ledger", "import_records": "desk_cmd_import"}  # action -> label key
QUEUE_ONLY = ("filter", "visit", *RECORDS_SCREENS)  # the queue's keys the alarm screen has not
CALL_ACTIONS = ("answer", "visit", "hangup", "mute", "volume_up", "volume_down")
IN_CALL_ACTIONS = ("hangup", "mute", "volume_up", "volume_down")
NOTES_RETRY_S = 15.0  # kept notes are tried again this often while the station seems up
PRESENCE_S = 30.0  # a logged-in console tells the station it is in use this often (well within
# the notify file's attended_s, 90 s by default: with none in use, the on-call officer is texted)
# the keys of the queue and the alarm screen (login first; hidden on the records screens)
DESK_ACTIONS = ("claim", "resolve", "press", "language", "open_alarm", "filter", "answer", "visit",
                *RECORDS_SCREENS)


class ConsoleApp(App[None]):
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("c", "claim", "claim"),
        Binding("r", "resolve", "resolve"),
        Binding("o", "open_alarm", "open", show=False),
        Binding("slash", "filter", "filter", key_display="/"),
        Binding("a", "answer", "call"),
        Binding("v", "visit", "visit"),
        Binding("h", "hangup", "hang up"),
        Binding("m", "mute", "mute"),
        Binding("plus,equals_sign", "volume_up", "vol+", key_display="+"),
        Binding("minus", "volume_down", "vol-", key_display="-"),
        Binding("p", "press", "press", show=False),
        Binding("tab", "focus_next", "switch", show=False),
        Binding("f2", "roster", "homes"),
        Binding("f3", "visits", "visits"),
        Binding("t", "ledger", "ledger"),
        Binding("f4", "import_records", "import", show=False),
        # kept out of the footer, which has room for the desk's keys only (ctrl+p lists them)
        Binding("l", "language", "lang", show=False),
        Binding("q", "quit", "quit", show=False),
        # Textual's own (added when the app has none) would stay labelled "palette"
        Binding("ctrl+p", "command_palette", "palette", show=False, priority=True),
    ]

    def __init__(self, cfg: StationConfig, *, user: str = "", password_file: Path | None = None,
                 language: Language = "zh_CN", demo_dir: Path | None = None,
                 client: Callable[..., StationClient] | None = None,
                 phone: Phone | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.cfg, self.user, self.password_file, self.demo_dir = cfg, user, password_file, demo_dir
        self.phone = phone  # the officer's headset; None: this console cannot call
        self._make_client = client or (lambda **kw: StationClient.over_mqtt(cfg.broker, **kw))
        self.station: wire.StationStatus | None = None  # as last heard; None: not known
        self.notes = KeptNotes()  # alarm notes waiting for the station
        self.on_alarm_shown: Callable[[str], None] | None = None  # instrumentation
        self.demo_hint: dict[str, str] | None = None  # demo mode: hub, user, password to tell once
        self.clock = clock  # wall clock of the timers; tests pass a fake one
        self.rules = load_county(cfg.county_file)
        self.texts = Texts(language, self.rules.tz)  # times in the county's zone, not the PC's
        self.ringer = Ringer(phone, lambda: self.bell())  # looked up per ring: tests replace bell
        self._notes_tried = 0.0  # monotonic time the kept notes were last sent
        self._present = 0.0  # monotonic time the station was last told this console is in use

    def get_default_screen(self) -> Screen[Any]:
        self.desk = DeskScreen(self)  # the first screen, under all the others
        return self.desk

    async def on_mount(self) -> None:
        self._relabel_bindings()
        self.store = StationReader.open(self.cfg.readonly_location, tz=self.rules.tz)
        await self.desk.up.wait()  # a screen composes after the app's mount
        self.screen_change_signal.subscribe(self, lambda screen: self.call_later(self._give_banner,
                                                                                 screen))
        self._station(None)
        self.client = self._make_client(on_changed=self._changed, on_station=self._station)
        self.client.start()
        self.line = CallLine(self.client, self.phone)
        self._show_call()
        self.set_interval(1.0, self._tick)
        self._ask_login()

    async def on_unmount(self) -> None:
        if hasattr(self, "line"):
            self.line.close()
        if hasattr(self, "client"):
            self.client.close()

    @property
    def station_online(self) -> bool | None:
        return None if self.station is None else self.station.online

    @property
    def session(self) -> wire.SessionInfo | None:
        return self.client.session if hasattr(self, "client") else None

    def _ask_login(self) -> None:
        self.push_screen(LoginScreen(self.texts, self.client.login, user=self.user,
                                     password_file=self.password_file), self._logged_in)

    def _logged_in(self, session: wire.SessionInfo | None) -> None:
        assert session is not None  # the login screen is dismissed only with a session
        self.user, self.role = session.user, Role(session.role)
        self._relabel_bindings()
        self.desk.show()
        self._send_kept_notes()
        if self.demo_hint:
            self.notify(self.texts("demo_hint", **self.demo_hint), timeout=10)

    @property
    def alarm_screen(self) -> AlarmScreen | None:
        return self.screen if isinstance(self.screen, AlarmScreen) else None

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):  # type: ignore[arg-type]
            self.push_screen(Palette(self.texts))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The desk's actions in the command palette (ctrl+p), and Textual's own (theme, keys,
        screenshot …), all in the console's language."""
        t = self.texts
        for c in super().get_system_commands(screen):
            key = f"sys_{c.title.lower()}"
            yield c._replace(title=t(key), help=t(f"{key}_help")) if key in STRINGS else c
        if self.session is None:
            return
        t = self.texts
        for action, key in (("open_alarm", "desk_cmd_open"), ("claim", "bind_claim"),
                            ("resolve", "bind_resolve"), ("filter", "desk_cmd_filter"),
                            ("answer", "bind_answer"), ("visit", "bind_visit"),
                            ("language", "bind_lang")):
            if self.check_action(action, ()):
                yield SystemCommand(t(key), t(f"{key}_help"), getattr(self, f"action_{action}"))
        if isinstance(screen, AlarmScreen):  # its own keys for the people told
            for action in AlarmScreen.MINE:
                key = f"desk_bind_{action}"
                yield SystemCommand(t(key), t(f"{key}_help"), getattr(screen, f"action_{action}"))
        yield from self.records_commands(screen)

    def records_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The records screens (roster, visits, ledger, import) in the command palette."""
        t = self.texts
        for action, key in RECORDS_SCREENS.items():
            yield SystemCommand(t(key), t(f"{key}_help"), getattr(self, f"action_{action}"))

    def _records(self) -> Records:
        s = self.session
        return Records(self.store, self.client, self.texts, self.rules, s.user if s else "",
                       s.role if s else "", call=self.call,
                       clock=lambda: datetime.fromtimestamp(self.clock(), UTC))

    def action_roster(self) -> None:
        self.push_screen(RosterScreen(self._records()))

    def action_visits(self) -> None:
        self.push_screen(VisitsScreen(self._records()))

    def action_ledger(self) -> None:
        self.push_screen(LedgerScreen(self._records()))

    def action_import_records(self) -> None:
        self.push_screen(ImportScreen(self._records()))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Nothing that shows or changes alarms works before login. The call controls show
        while a call is on, the keys that start one while none is. The desk's own keys act on
        the queue and the alarm screen only: a records screen shows its own keys (a call's
        controls stay, wherever it was started); the alarm screen leaves out the queue's filter,
        the online visit and the records screens, and the claim once the alarm is this
        officer's."""
        if action not in IN_CALL_ACTIONS and action in DESK_ACTIONS and not self._at_desk():
            return False
        if action in QUEUE_ONLY and isinstance(self.screen, AlarmScreen):
            return False  # the alarm screen's footer keeps to the alarm
        if action == "claim" and (s := self.alarm_screen) and s.alarm.claimed_by == self.user \
                and s.alarm.claimed_by is not None:
            return False  # it is this officer's already: the footer has room for its own keys
        if action in CALL_ACTIONS:
            live = hasattr(self, "line") and self.line.live
            return self.session is not None and live == (action in IN_CALL_ACTIONS)
        return self.session is not None or action not in DESK_ACTIONS

    def _at_desk(self) -> bool:
        return len(self.screen_stack) <= 1 or isinstance(self.screen, AlarmScreen)

    async def action_quit(self) -> None:
        """Leave the desk; asked first while alarms are open or a call is on (a stray q
        must not leave the station unwatched)."""
        n = len(self.store.open_alarms())
        if not (n or self.line.live or self.notes.waiting):
            await self._leave()
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self._leave()

        question = self.texts("quit_on_call") if self.line.live else \
            self.texts("desk_quit_notes", n=len(self.notes.waiting)) if self.notes.waiting else \
            self.texts("quit_confirm", n=n)
        self.push_screen(ConfirmScreen(self.texts, question), answered)

    async def _leave(self) -> None:
        await self.line.hang_up()
        await self.client.logout()
        self.exit()

    # --- live updates ---------------------------------------------------------------------

    def _changed(self, msg: wire.Changed) -> None:
        if self.session is None:
            return  # shown from the database at login
        if self.line.call and self.line.update(self.store.calls.get(self.line.call.id)):
            self._show_call()
        self.desk.changed(msg)

    def _station(self, status: wire.StationStatus | None) -> None:
        """What the station says of itself (None: our own link is down), on every screen's
        banner; the bell when it goes wrong; the kept notes sent when it is back."""
        was, self.station = station_key(self.station), status
        for screen in self.screen_stack:
            for banner in screen.query(StationBanner):
                banner.show(status, self.texts)
        now = station_key(status)
        if now != was and now != "station_online":
            self.bell()
        elif now != was and self.notes.waiting:
            self._send_kept_notes()

    def _give_banner(self, screen: Screen[Any]) -> None:
        """A screen just shown gets its station banner, first (docked on modal screens), if it
        has none yet (the desk's is its own)."""
        if not screen.query(StationBanner):
            banner = StationBanner()
            banner.show(self.station, self.texts)
            screen.mount(banner, before=0 if screen.children else None)

    def _tick(self) -> None:
        if self.session is not None and time.monotonic() - self._present >= PRESENCE_S:
            self._present = time.monotonic()
            self._say_present()
        if self.notes.waiting and time.monotonic() - self._notes_tried >= NOTES_RETRY_S and \
                station_key(self.station) == "station_online":
            self._send_kept_notes()  # the station is back without a word (it had hung)
        self.desk.tick()
        if self.line.call:
            self._show_call()

    @work(group="presence", exclusive=True)
    async def _say_present(self) -> None:
        """The console is in use (the station is attended); a session that ended asks again."""
        reply = await self.client.request("presence")
        if reply.code == "login_required" and self.session is not None:
            self.refused(reply)

    def _show_call(self) -> None:
        c = self.line.call
        alarm = self.store.alarm(c.alarm) if c and c.alarm else None
        home = self.store.home(c.hub) if c and not alarm else None
        name = elder_name(alarm, self.texts) if alarm else \
            home.elder.name if home and home.elder else c.hub if c else ""
        shown = [bar.show(c, name, self.texts) for bar in
                 {self.desk.callbar, *(self.alarm_screen.query(CallBar) if self.alarm_screen else ())}]
        if not all(shown):
            self.line.dismiss()
        self.refresh_bindings()

    async def note(self, alarm: str, text: str) -> bool:
        """Send an alarm note; one that does not get through now is kept and sent later
        (kept_notes.py). True: sent or kept."""
        written = time.time()
        reply = await self.client.request("alarm_note", alarm, notes=text)
        if reply.ok:
            self.notify(self.texts("desk_note_ok"))
            return True
        if not kept_back(reply):
            self.refused(reply)
            return False
        self.notes.keep(KeptNote(alarm, text, written))
        self.notify(self.texts("desk_note_kept", reason=reply_text(reply, self.texts)),
                    severity="warning", timeout=10)
        if reply.code == "login_required":
            self.refused(reply)  # log in again: the note goes after
        return True

    @work(group="kept-notes")
    async def _send_kept_notes(self) -> None:
        """The notes kept while the station could not take them, now that it may."""
        self._notes_tried = time.monotonic()
        if self.session is None or not self.notes.waiting:
            return
        t = self.texts
        for note, reply in await self.notes.send(self.client.request):
            if reply.ok:
                self.notify(t("desk_note_sent", time=t.clock(note.written)))
            else:
                self.notify(t("desk_note_refused", time=t.clock(note.written),
                              reason=reply_text(reply, t), notes=note.notes),
                            severity="error", timeout=30)
        if self.alarm_screen:
            self.alarm_screen.reload()

    def refused(self, reply: wire.Reply) -> None:
        """Say why a request was refused; ask for a login again when the session ended."""
        self.notify(reply_text(reply, self.texts), severity="error")
        if reply.code == "login_required":
            self.client.session = None
            self._ask_login()

    # --- the desk's keys (screens/desk.py): on the alarm screen too, where they apply ---------

    def action_open_alarm(self) -> None:
        """Open the alarm screen of the selected alarm."""
        self.desk.open_alarm()

    def action_filter(self) -> None:
        """Narrow the queue as the officer types."""
        self.desk.filter()

    async def action_claim(self) -> None:
        await self.desk.claim()

    def action_resolve(self) -> None:
        self.desk.resolve()

    async def action_answer(self) -> None:
        """Call the home of the selected alarm, which must be claimed by this officer."""
        await self.desk.answer()

    async def action_visit(self) -> None:
        """An online visit: call the home selected in the roster."""
        await self.desk.visit()

    def action_press(self) -> None:
        """Demo mode: press the call button of the home selected in the roster."""
        self.desk.press()

    # --- calls (with any screen's home) --------------------------------------------------

    async def call(self, hub: str, alarm: str | None = None) -> None:
        if self.phone is None:
            self.notify(self.texts("call_no_audio"), severity="warning")
            return
        if self.line.live:
            self.notify(self.texts("call_already"), severity="warning")
            return
        reply = await self.line.start(alarm=alarm, hub=hub)
        if reply.ok:
            self._show_call()
        else:
            self.refused(reply)

    async def action_hangup(self) -> None:
        reply = await self.line.hang_up()
        self._show_call()
        if reply is not None and not reply.ok and reply.code != "no_call":
            self.refused(reply)

    def action_mute(self) -> None:
        self.line.mute()
        self._show_call()

    def action_volume_up(self) -> None:
        self.line.volume(+1)
        self._show_call()

    def action_volume_down(self) -> None:
        self.line.volume(-1)
        self._show_call()

    def action_language(self) -> None:
        self.texts = self.texts.other_language()
        self._relabel_bindings()
        self.desk.relabel()
        if self.alarm_screen:
            self.alarm_screen.relabel(self.texts)
        self._station(self.station)
        self._show_call()

    def _relabel_bindings(self) -> None:
        t = self.texts
        self.title = t("title")
        s = self.session
        who = f"{t(f'role_{s.role}')}: {s.display}" if s else t("not_logged_in")
        self.sub_title = f"{who}  {t.time(self.clock(), '%Y-%m-%d')}"
        labels = {"claim": "bind_claim", "resolve": "bind_resolve", "press": "bind_press",
                  "filter": "desk_bind_filter", "open_alarm": "desk_cmd_open",
                  "language": "bind_lang", "quit": "bind_quit", "command_palette": "bind_palette",
                  **RECORDS_SCREENS, "roster": "bind_roster",
                  **{a: f"bind_{a}" for a in CALL_ACTIONS}}
        demo = self.demo_dir is not None
        # Textual has no API to relabel a binding; its map of key -> bindings is replaced.
        for key, bindings in list(self._bindings.key_to_bindings.items()):
            self._bindings.key_to_bindings[key] = [
                replace(x, description=t(labels[x.action]),
                        show=x.show or (x.action == "press" and demo))
                if x.action in labels else x for x in bindings]
        self.refresh_bindings()
