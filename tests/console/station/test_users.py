"""Console users: password hashes, lockout, sessions, roles at the station service, the
login screen, and `anxin user` on the station database."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from textual.widgets import Input, Static

from console.station import users
from console.station.config import LoginConfig, StationConfig
from console.station.service import StationService, station_will
from console.station.store.station import StationStore
from console.station.users import LoginRefused, Role, verify_password
from console.tui.app import ConsoleApp
from console.tui.client import StationClient
from console.tui.screens.login import LoginScreen
from console.tui.widgets.alarm_queue import AlarmQueue
from hub.cli.main import main
from hub.common import wire
from hub.common.events import AlarmState, Event
from hub.common.transport import MemoryBroker
from tests.conftest import eventually
from tests.support.accounts import PASSWORD, add_users, log_in
from tests.support.postgres import StoreAt

# --- passwords and logins on the database ---------------------------------------------------


def test_password_hash_is_salted_scrypt_at_the_real_cost_and_checks_in_constant_time() -> None:
    encoded = users.hash_password("s3cret-pass")
    assert encoded.startswith("scrypt$n=131072,r=8,p=1$")  # OWASP's minimum for scrypt
    assert "s3cret-pass" not in encoded
    assert users.hash_password("s3cret-pass") != encoded  # a fresh salt each time
    assert verify_password("s3cret-pass", encoded)
    assert not verify_password("s3cret-pasS", encoded)
    assert not verify_password("s3cret-pass", encoded.replace("scrypt$", "md5$"))
    assert not verify_password("s3cret-pass", "garbage")


def store_with(at: StoreAt, *people: tuple[str, str, Role], **login: float) -> StationStore:
    add_users(at.location, *people)
    return StationStore(at.location, login=LoginConfig.model_validate(login))


def actions(store: StationStore, target: str) -> list[tuple[str, dict[str, object]]]:
    return [(e.action, e.detail) for e in store.audit_entries(target=target)]


def test_five_failures_lock_the_user_at_that_console_for_a_minute(
        store_at: StoreAt, cheap_passwords: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = store_with(store_at, ("zhang", "张三", Role.DUTY))
    for i in range(1, 6):
        with pytest.raises(LoginRefused, match="wrong username or password") as e:
            store.users.login("zhang", f"guess{i}xx", via="c1", now=100.0 + i)
        assert e.value.code == "bad_login"
    with pytest.raises(LoginRefused, match="try again in 59 s, or at another console") as e:
        store.users.login("zhang", PASSWORD, via="c1", now=106.0)  # even the right password
    assert e.value.code == "locked"
    assert store.users.locked_at("zhang", now=106.0) == 1
    assert store.users.login("zhang", PASSWORD, via="c2", now=107.0)  # her own desk: not locked
    session = store.users.login("zhang", PASSWORD, via="c1", now=166.0)  # the minute is over
    assert session.user.display == "张三"
    log = actions(store, "zhang")
    assert [a for a, _ in log] == ["user.add"] + ["login.failed"] * 6 + ["login"] * 2
    assert log[5][1] == {"reason": "wrong password", "console": "c1", "failures": 5, "total": 5,
                         "locked_s": 60.0}
    assert log[6][1] == {"reason": "locked", "console": "c1"}  # refused unread: not counted
    assert "failed login for 'zhang' from c1: wrong password; locked at that console for 60 s" \
        in caplog.text
    assert not any(f"guess{i}xx" in caplog.text for i in range(1, 6))
    # a good login starts the count again
    with pytest.raises(LoginRefused):
        store.users.login("zhang", "wrongagain", via="c1", now=167.0)
    assert actions(store, "zhang")[-1][1] == {"reason": "wrong password", "console": "c1",
                                              "failures": 1, "total": 1}


def test_failures_from_many_consoles_slow_the_user_down_but_not_where_she_logs_in(
        store_at: StoreAt, cheap_passwords: None) -> None:
    store = store_with(store_at, ("zhang", "张三", Role.DUTY), slow_after=10, slow_s=10)
    u = store.users
    assert u.login("zhang", PASSWORD, via="desk", now=1.0)  # her desk: known from now on
    for i in range(10):  # one guess from each of ten consoles: none is locked
        with pytest.raises(LoginRefused, match="wrong username"):
            u.login("zhang", f"guess{i}xx", via=f"x{i}", now=10.0 + i)
    assert u.locked_at("zhang", now=20.0) == 0
    with pytest.raises(LoginRefused, match="try again in 9 s") as e:  # at a console new to her
        u.login("zhang", PASSWORD, via="x10", now=20.0)
    assert e.value.code == "slowed"
    assert u.login("zhang", PASSWORD, via="desk", now=20.5)  # her own desk is not slowed
    assert u.login("zhang", PASSWORD, via="x10", now=21.0)  # nor anyone after a good login


def test_unknown_and_disabled_users_get_the_answer_a_wrong_password_gets(
        store_at: StoreAt, cheap_passwords: None) -> None:
    store = store_with(store_at, ("zhang", "张三", Role.DUTY))
    store.users.set_disabled("zhang", True, actor="root", now=1.0)
    answers = []
    for name, pw in (("nobody", PASSWORD), ("zhang", PASSWORD), ("zhang", "wrongpass")):
        with pytest.raises(LoginRefused) as e:
            store.users.login(name, pw, via="c1", now=2.0)
        answers.append((e.value.code, str(e.value)))
    assert len(set(answers)) == 1
    reasons = [e.detail["reason"] for e in store.audit_entries() if e.action == "login.failed"]
    assert reasons == ["unknown user", "disabled", "disabled"]  # the log says which it was


def test_sessions_end_at_expiry_logout_password_change_and_disable(
        store_at: StoreAt, cheap_passwords: None) -> None:
    store = store_with(store_at, ("zhang", "张三", Role.DUTY), session_h=1)
    u = store.users
    s = u.login("zhang", PASSWORD, via="c1", now=0.0)
    assert u.session_user(s.token, now=3599.0) is not None
    assert u.session_user(s.token, now=3600.0) is None  # a shift later
    assert u.session_user("forged-" + s.token, now=1.0) is None
    stored = store._db.execute("SELECT token_hash FROM sessions").fetchall()
    assert stored == [(users.token_hash(s.token),)]  # the token itself is not in the database
    s = u.login("zhang", PASSWORD, via="c1", now=10.0)
    u.set_password("zhang", "newpassword", actor="root", now=11.0)
    assert u.session_user(s.token, now=12.0) is None
    s = u.login("zhang", "newpassword", via="c1", now=13.0)
    u.set_disabled("zhang", True, actor="root", now=14.0)
    assert u.session_user(s.token, now=15.0) is None
    u.set_disabled("zhang", False, actor="root", now=16.0)
    assert u.session_user(s.token, now=16.5) is None  # enabling again does not revive it
    s = u.login("zhang", "newpassword", via="c1", now=17.0)
    assert u.logout(s.token, now=18.0) is not None
    assert u.session_user(s.token, now=19.0) is None
    assert u.logout(s.token, now=20.0) is None  # once


def test_user_changes_are_checked(store_at: StoreAt, cheap_passwords: None) -> None:
    store = store_with(store_at, ("zhang", "张三", Role.DUTY))
    u = store.users
    with pytest.raises(users.UserError, match="already exists"):
        u.add("zhang", "张三", Role.DUTY, PASSWORD, actor="root", now=1.0)
    with pytest.raises(users.UserError, match="bad username"):
        u.add("Zhang San", "张三", Role.DUTY, PASSWORD, actor="root", now=1.0)
    with pytest.raises(users.UserError, match="8 to 256 characters"):
        u.add("li", "李四", Role.DUTY, "short", actor="root", now=1.0)
    with pytest.raises(users.UserError, match="no user 'wang'"):
        u.set_role("wang", Role.ADMIN, actor="root", now=1.0)
    assert [x.username for x in u.all_users()] == ["zhang"]
    assert [a for a, _ in actions(store, "zhang")] == ["user.add"]  # refused changes leave no entry


# --- the station service: login, token, roles -----------------------------------------------


@dataclass
class Desk:
    """A console's client on the in-memory broker, next to a running station service."""

    station: StationService
    broker: MemoryBroker

    def client(self, console_id: str = "desk1") -> StationClient:
        c = StationClient(transport=self.broker.client(), console_id=console_id,
                          on_changed=lambda _: None, on_station=lambda _: None)
        c.start()
        return c

    async def logged_in(self, username: str, console_id: str = "desk1") -> StationClient:
        c = self.client(console_id)
        reply = await c.login(username, PASSWORD, timeout=5)
        assert reply.ok, reply
        return c

    def alarm(self, id: str = "a1") -> str:
        self.station.store.store_event(wire.event_msg("h001", Event(
            kind="button.press", source="bedside", alarm="panic", id=id)))
        return id


@pytest.fixture
async def desk(tmp_path: Path, cheap_passwords: None) -> AsyncIterator[Desk]:
    add_users(tmp_path / "station.db", ("zhang", "张三", Role.DUTY), ("li", "李四", Role.DUTY),
              ("boss", "王主管", Role.SUPERVISOR), ("root", "管理员", Role.ADMIN))
    broker = MemoryBroker()
    cfg = StationConfig.model_validate({"database": str(tmp_path / "station.db")})
    async with StationService(cfg, transport=lambda c, _: broker.client(station_will())) as st:
        yield Desk(st, broker)


async def test_login_gives_a_token_and_the_claim_shows_the_display_name(desk: Desk) -> None:
    c = await desk.logged_in("zhang")
    assert c.session and (c.session.user, c.session.display, c.session.role) == ("zhang", "张三", "duty")
    assert len(c.session.token.get_secret_value()) >= 40
    reply = await c.request("claim", desk.alarm(), timeout=5)
    assert reply.ok, reply
    a = desk.station.store.alarm("a1")
    assert a and (a.state, a.claimed_by, a.officer) == (AlarmState.CLAIMED, "zhang", "张三")
    assert desk.station.store.alarm_log("a1")[-1][2] == "张三"  # the timeline shows the name


async def test_wrong_password_is_refused_with_a_code_the_console_translates(desk: Desk) -> None:
    reply = await desk.client().login("zhang", "not-the-password", timeout=5)
    assert (reply.ok, reply.code, reply.error, reply.session) == (
        False, "bad_login", "wrong username or password", None)


async def test_duty_officer_cannot_take_over_but_a_supervisor_can(desk: Desk) -> None:
    zhang, li, boss = [await desk.logged_in(u, f"desk-{u}") for u in ("zhang", "li", "boss")]
    assert (await zhang.request("claim", desk.alarm(), timeout=5)).ok
    refused = await li.request("resolve", "a1", outcome="false_alarm", timeout=5)
    assert (refused.ok, refused.error) == (False, "already claimed by 张三")
    taken = await boss.request("resolve", "a1", outcome="onsite_help", notes="went there", timeout=5)
    assert taken.ok, taken
    a = desk.station.store.alarm("a1")
    assert a and (a.state, a.claimed_by, a.officer, a.outcome) == (
        AlarmState.RESOLVED, "boss", "王主管", "onsite_help")
    trail = [(e.actor, e.action, e.detail) for e in desk.station.store.audit_entries(target="a1")]
    assert trail == [("zhang", "alarm.claim", {"officer": "张三"}),
                     ("boss", "alarm.takeover", {"from": "zhang", "from_officer": "张三"}),
                     ("boss", "alarm.resolve", {"outcome": "onsite_help", "notes": "went there"})]


async def test_an_admin_claims_and_resolves_but_does_not_take_over(desk: Desk) -> None:
    zhang, root = await desk.logged_in("zhang", "d1"), await desk.logged_in("root", "d2")
    assert (await root.request("claim", desk.alarm("a1"), timeout=5)).ok
    assert (await root.request("resolve", "a1", outcome="safe_by_phone", timeout=5)).ok
    assert (await zhang.request("claim", desk.alarm("a2"), timeout=5)).ok
    assert not (await root.request("resolve", "a2", outcome="safe_by_phone", timeout=5)).ok


def expire_sessions(station: StationService) -> None:
    """As if a shift had passed (the database is what every station worker checks)."""
    station.store._db.execute("UPDATE sessions SET expires = ?", (time.time() - 1,))


async def test_expired_forged_missing_and_logged_out_tokens_are_refused(desk: Desk) -> None:
    c = await desk.logged_in("zhang")
    good = c.session
    assert good
    c.session = good.model_copy(update={"token": SecretStr("forged" + "x" * 40)})
    forged = await c.request("claim", desk.alarm("a1"), timeout=5)
    assert (forged.ok, forged.code) == (False, "login_required")
    c.session = None  # like a console from before logins: no token at all
    assert (await c.request("claim", "a1", timeout=5)).code == "login_required"
    c.session = good
    assert (await c.request("claim", "a1", timeout=5)).ok  # the real token works
    assert (await c.request("resolve", "a1", outcome="safe_by_phone", timeout=5)).ok
    expire_sessions(desk.station)
    expired = await c.request("claim", desk.alarm("a2"), timeout=5)
    assert (expired.ok, expired.code, expired.error) == (
        False, "login_required", "not logged in, or the session has ended: log in again")
    assert desk.station.store.alarm("a2").state is AlarmState.DELIVERED  # type: ignore[union-attr]
    fresh = await desk.logged_in("zhang")
    await fresh.logout()
    assert fresh.session is None
    assert [e.action for e in desk.station.store.audit_entries(target="zhang")][-2:] == [
        "login", "logout"]


async def test_old_console_request_with_officer_and_no_token_is_answered_not_obeyed(
        desk: Desk) -> None:
    replies: list[bytes] = []
    old = desk.broker.client()
    old.start(lambda t, p: replies.append(p), lambda up: None)
    old.subscribe(wire.reply_topic("old-desk"))
    old.publish(wire.request_topic("old-desk"), json.dumps({
        "v": 1, "type": "request", "req": "r1", "console": "old-desk", "op": "claim",
        "ts": time.time(), "alarm": desk.alarm(), "officer": "张三"}).encode())
    reply = wire.decode_as((await eventually(lambda: replies, what="a reply"))[0], wire.Reply)
    assert (reply.ok, reply.code) == (False, "login_required")
    assert desk.station.store.alarm("a1").officer is None  # type: ignore[union-attr]


async def test_passwords_are_kept_neither_in_refused_requests_nor_in_the_log(
        desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    evil = desk.broker.client()
    evil.start(lambda t, p: None, lambda up: None)
    bad_login = {"v": 1, "type": "request", "req": "r1", "op": "login", "ts": time.time(),
                 "user": "zhang", "password": "hunter2hunter2"}  # no console: refused
    evil.publish(wire.request_topic("evil"), json.dumps(bad_login).encode())
    evil.publish(wire.request_topic("evil"), b'{"password": "hunter2hunter2", truncated')
    await desk.client().login("zhang", "hunter2hunter2", timeout=5)  # a wrong password
    rows = await eventually(lambda: desk.station.store._db.execute(
        "SELECT reason, payload FROM rejected").fetchall(), what="refused requests kept")
    assert len(rows) == 2
    assert json.loads(rows[0][1])["password"] == "***" and "console" in rows[0][0]
    assert rows[1][1] == b"(not a JSON object; not kept, as it may hold a password)"
    sent = wire.Login(req="r2", console="c", ts=1.0, user="zhang",
                      password=SecretStr("hunter2hunter2"))
    assert b'"password":"hunter2hunter2"' in wire.encode(sent)  # on the wire, to the station
    assert "hunter2" not in repr(sent) and "hunter2" not in str(sent)  # never in a log line
    dump = "\n".join(desk.station.store._db.raw.iterdump())
    assert "hunter2" not in dump and b"hunter2".hex().upper() not in dump.upper()
    assert "hunter2" not in caplog.text


async def test_the_console_refuses_an_identifier_with_a_control_character_itself(
        desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    """It would be refused at the station without an answer a console could wait for."""
    c = await desk.logged_in("zhang")
    reply = await c.request("claim", desk.alarm("a1") + "\n", timeout=5)
    assert (reply.ok, reply.code) == (False, "invalid")
    assert reply.error == "claim.alarm: control or format character '\\n' not allowed here (1 error(s))"
    assert desk.station.store.alarm("a1").state is AlarmState.DELIVERED  # type: ignore[union-attr]


async def test_a_request_refused_at_the_door_is_answered_when_it_says_where(desk: Desk) -> None:
    replies: list[bytes] = []
    raw = desk.broker.client()
    raw.start(lambda t, p: replies.append(p), lambda up: None)
    raw.subscribe(wire.reply_topic("old-desk"))
    raw.publish(wire.request_topic("old-desk"), json.dumps({"v": 1, "type": "request", "req": "r1",
                                                  "console": "old-desk", "op": "fly",
                                                  "ts": time.time()}).encode())
    reply = wire.decode_as((await eventually(lambda: replies, what="a reply"))[0], wire.Reply)
    assert (reply.req, reply.ok, reply.code) == ("r1", False, "invalid")
    assert (reply.error or "").startswith("request: Input tag 'fly' found using 'op' does not "
                                          "match any of the expected tags: 'login', 'logout'")


# --- the console -----------------------------------------------------------------------------


@pytest.fixture
def console(desk: Desk) -> Callable[..., ConsoleApp]:
    def make(**kw: object) -> ConsoleApp:
        return ConsoleApp(desk.station.cfg, client=lambda **cb: StationClient(
            transport=desk.broker.client(), console_id="desk1", **cb), **kw)  # type: ignore[arg-type]
    return make


def login_message(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#login-message", Static).content)


async def test_login_screen_hides_the_queue_until_the_password_is_right(
        desk: Desk, console: Callable[..., ConsoleApp]) -> None:
    desk.alarm()
    app = console()
    async with app.run_test(size=(100, 30)) as pilot:
        await eventually(lambda: isinstance(app.screen, LoginScreen), what="login screen")
        assert app.query_one(AlarmQueue).row_count == 0  # nothing shown before login
        assert "未登录" in app.sub_title
        await pilot.press(*"zhang", "enter", *"wrongpass1", "enter")
        await eventually(lambda: "用户名或密码错误" in login_message(app), what="refusal shown")
        assert isinstance(app.screen, LoginScreen) and app.session is None
        assert app.screen.query_one("#login-password", Input).value == ""
        await pilot.press(*PASSWORD, "enter")
        await eventually(lambda: app.session is not None, what="logged in")
        assert not isinstance(app.screen, LoginScreen)
        assert app.sub_title.startswith("值班员: 张三")
        assert app.query_one(AlarmQueue).row_count == 1
        await pilot.press("c")
        await eventually(lambda: desk.station.store.alarm("a1").officer == "张三",  # type: ignore[union-attr]
                         what="claimed as 张三")


async def test_console_asks_again_when_the_session_has_ended(
        desk: Desk, console: Callable[..., ConsoleApp]) -> None:
    desk.alarm()
    app = console(user="zhang")
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, app, "", PASSWORD)  # the username is filled in from --user
        expire_sessions(desk.station)
        await pilot.press("c")
        await eventually(lambda: isinstance(app.screen, LoginScreen), what="login screen again")
        assert desk.station.store.alarm("a1").state is AlarmState.DELIVERED  # type: ignore[union-attr]


async def test_duty_console_says_who_has_the_alarm_instead_of_offering_a_takeover(
        desk: Desk, console: Callable[..., ConsoleApp]) -> None:
    desk.station.store.claim(desk.alarm(), "li", "李四")
    app = console()
    async with app.run_test(size=(100, 30)) as pilot:
        await log_in(pilot, app, "zhang")
        await pilot.press("r")
        await eventually(lambda: any("该报警已由 李四 接警" in str(n.message)
                                     for n in app._notifications), what="refusal")
        assert app.screen is app.screen_stack[0]  # no resolve form opened


async def test_password_file_logs_in_by_itself_only_if_private(
        tmp_path: Path, desk: Desk, console: Callable[..., ConsoleApp]) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    for mode, logged_in in ((0o644, False), (0o600, True)):
        os.chmod(pw, mode)
        app = console(user="boss", password_file=pw)
        async with app.run_test(size=(100, 30)):
            if logged_in:
                await eventually(lambda app=app: app.session is not None, what="auto login")
                assert app.sub_title.startswith("主管: 王主管")
            else:
                await eventually(lambda app=app: "readable by others" in login_message(app),
                                 what="unsafe file refused")
                assert app.session is None


# --- anxin user -----------------------------------------------------------------------------


def run(cfg: Path, *args: str, stdin: str = "", monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main([*args, "--config", str(cfg)])


def test_anxin_user_add_list_passwd_with_password_stdin(
        tmp_path: Path, cheap_passwords: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text(yaml.safe_dump({"database": "station.db"}))
    # the first admin is made as the operating-system user
    assert run(cfg, "user", "add", "root", "--role", "admin", "--display", "管理员甲",
               "--password-stdin", stdin="rootpass1\n", monkeypatch=monkeypatch) == 0
    assert "acting as os:" in capsys.readouterr().err
    # then every change names an admin and gives the admin's password first
    add_zhang = ("user", "add", "zhang", "--role", "duty", "--display", "张三", "--password-stdin")
    assert run(cfg, *add_zhang, stdin="zhangpass\n", monkeypatch=monkeypatch) == 1
    assert "name one with --admin" in capsys.readouterr().err
    assert run(cfg, *add_zhang, "--admin", "root", stdin="wrongpass\nzhangpass\n",
               monkeypatch=monkeypatch) == 1
    assert "wrong username or password" in capsys.readouterr().err
    assert run(cfg, *add_zhang, "--admin", "root", stdin="rootpass1\nzhangpass\n",
               monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out == "added zhang (张三, duty)\n"
    assert run(cfg, "user", "list", monkeypatch=monkeypatch) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["USER", "DISPLAY", "ROLE", "STATE", "CHANGED"]
    assert [line.split()[:4] for line in listed[1:]] == [["root", "管理员甲", "admin", "active"],
                                                          ["zhang", "张三", "duty", "active"]]
    assert run(cfg, "user", "passwd", "zhang", "--admin", "root", "--password-stdin",
               stdin="rootpass1\nnewzhangpw\n", monkeypatch=monkeypatch) == 0
    assert run(cfg, "user", "role", "zhang", "supervisor", "--admin", "root", "--password-stdin",
               stdin="rootpass1\n", monkeypatch=monkeypatch) == 0
    assert run(cfg, "user", "disable", "zhang", "--admin", "root", "--password-stdin",
               stdin="rootpass1\n", monkeypatch=monkeypatch) == 0
    capsys.readouterr()
    store = StationStore(tmp_path / "station.db")
    zhang = store.users.get("zhang")
    assert zhang and zhang.role is Role.SUPERVISOR and zhang.disabled
    store.users.set_disabled("zhang", False, actor="test", now=time.time())
    assert store.users.login("zhang", "newzhangpw", via="test", now=time.time())
    with pytest.raises(LoginRefused):
        store.users.login("zhang", "zhangpass", via="test", now=time.time())
    trail = [(e.actor, e.action) for e in store.audit_entries()]
    assert ("root", "user.add") in trail and ("root", "user.passwd") in trail
    assert trail.count(("root", "logout")) == 4  # each CLI change is its own short session
    stored = "\n".join(store._db.raw.iterdump())
    assert "zhangpass" not in stored and "rootpass1" not in stored


def test_a_supervisor_unlocks_a_user_everywhere_with_anxin_user_unlock(
        tmp_path: Path, cheap_passwords: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text(yaml.safe_dump({"database": "station.db"}))
    add_users(tmp_path / "station.db", ("root", "管理员", Role.ADMIN), ("boss", "王主管", Role.SUPERVISOR),
              ("li", "李四", Role.DUTY), ("zhang", "张三", Role.DUTY))
    store = StationStore(tmp_path / "station.db")
    now = time.time()
    for i in range(10):  # five wrong guesses at each of two consoles: locked at both, slowed
        with pytest.raises(LoginRefused):
            store.users.login("zhang", f"guess{i}xx", via=f"c{i // 5}", now=now)
    assert run(cfg, "user", "list", monkeypatch=monkeypatch) == 0
    listed = {line.split()[0]: line.split()[3:7] for line in capsys.readouterr().out.splitlines()}
    assert listed["zhang"] == ["locked", "at", "2", "console(s)"]
    unlock = ("user", "unlock", "zhang", "--password-stdin")
    assert run(cfg, *unlock, "--supervisor", "li", stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 1
    assert "li is not an admin or supervisor" in capsys.readouterr().err
    assert run(cfg, *unlock, "--supervisor", "boss", stdin=PASSWORD + "\n", monkeypatch=monkeypatch) == 0
    assert capsys.readouterr().out == "zhang unlocked (was locked at 2 console(s)); failed logins cleared\n"
    assert store.users.locked_at("zhang", now=time.time()) == 0
    assert store.users.login("zhang", PASSWORD, via="c0", now=time.time())
    unlocked = [(e.actor, e.detail) for e in store.audit_entries(target="zhang") if e.action == "user.unlock"]
    assert unlocked == [("boss", {"locked_at": 2, "failures": 10})]
    with pytest.raises(SystemExit):  # only unlock may be done by a supervisor
        run(cfg, "user", "disable", "zhang", "--supervisor", "boss", monkeypatch=monkeypatch)
