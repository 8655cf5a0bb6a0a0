"""Log in before anything else: the console shows no elder's data to someone not logged in."""

from __future__ import annotations

import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from console.tui.i18n import STRINGS, Texts
from hub.common import wire

Login = Callable[[str, str], Awaitable[wire.Reply]]


def read_password_file(path: Path) -> str:
    """The first line of a file only its owner can read (as the demo writes it); anything
    else is refused, like ssh refuses a readable key."""
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is readable by others (chmod 600 it)")
    password = (path.read_text(encoding="utf-8").splitlines() or [""])[0]
    if not password:
        raise ValueError(f"{path} is empty")
    return password


def reply_text(reply: wire.Reply, t: Texts) -> str:
    """A refusal in the console's language: its code's ``err_<code>`` (every code the station
    sends has one: tests/console/tui/test_refusals.py), a station that failed without a code,
    no reply at all. The station's own text is English: only the English strings quote it,
    and a code this console does not know (a newer station's)."""
    if reply.code and f"err_{reply.code}" in STRINGS:
        return t(f"err_{reply.code}", error=reply.error or "-")
    if reply.error is None:
        return t("no_reply")
    return t("err_failed" if reply.code is None else "refused", error=reply.error)


class LoginScreen(Screen[wire.SessionInfo]):
    """Dismissed with the session once the station service accepts the password. With a
    password file (the demo) it logs in by itself and stays only if that fails."""

    def __init__(self, texts: Texts, login: Login, *, user: str = "",
                 password_file: Path | None = None) -> None:
        super().__init__()
        self.texts, self._login, self.user, self.password_file = texts, login, user, password_file

    def compose(self) -> ComposeResult:
        t = self.texts
        with Vertical(id="login"):
            yield Label(f"{t('title')} · {t('login_title')}", id="login-title")
            yield Label(t("login_user"))
            yield Input(value=self.user, id="login-user", max_length=32)
            yield Label(t("login_password"))
            yield Input(password=True, id="login-password", max_length=256)
            yield Button(t("login_button"), variant="primary", id="login-button")
            yield Static("", id="login-message")

    def on_mount(self) -> None:
        self.query_one("#login-password" if self.user else "#login-user", Input).focus()
        if self.password_file and self.user:
            try:
                self._try(self.user, read_password_file(self.password_file))
            except (OSError, ValueError) as e:
                self._say(self.texts("password_file_bad", error=e))

    @on(Input.Submitted, "#login-user")
    def _to_password(self) -> None:
        self.query_one("#login-password", Input).focus()

    @on(Input.Submitted, "#login-password")
    @on(Button.Pressed, "#login-button")
    def _submit(self) -> None:
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        if not user or not password:
            self._say(self.texts("login_fields"))
            return
        self._try(user, password)

    @work(exclusive=True)
    async def _try(self, user: str, password: str) -> None:
        button = self.query_one("#login-button", Button)
        button.disabled = True
        self._say(self.texts("logging_in"), error=False)
        reply = await self._login(user, password)
        if reply.ok and reply.session:
            self.dismiss(reply.session)
            return
        button.disabled = False
        self._say(reply_text(reply, self.texts))
        field = self.query_one("#login-password", Input)
        field.value = ""
        field.focus()

    def _say(self, text: str, *, error: bool = True) -> None:
        message = self.query_one("#login-message", Static)
        message.update(text)
        message.set_class(error, "error")
