"""Console users: roles, scrypt password hashes, login with lockout, and shift sessions.

Users live in the station database, so every station worker sees the same accounts and
sessions. A password is kept only as a salted scrypt hash; a session token only as its
SHA-256 (consoles can read the database, so neither must be usable from it). Every login,
failed login, logout and user change goes into the audit log in the same transaction.

Failed logins lock a user *at one console* (the console id of the request's topic: under TLS
the identity the broker vouches for), so a stranger's wrong guesses cannot keep an officer out
at her own desk; across all consoles they only slow the guessing down, except at consoles
where the user has logged in before (docs/security.md, "Logins").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from console.station import audit
from console.station.config import LoginConfig
from console.station.store.db import Db

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    display TEXT NOT NULL,           -- shown on the alarms this user claims
    role TEXT NOT NULL,
    password TEXT NOT NULL,          -- scrypt$n=…,r=…,p=…$salt$key: never the password itself
    disabled INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,  -- failed logins since the last good one, all consoles
    slowed_until REAL,               -- with failed >= slow_after: no check before, but at a known console
    created REAL NOT NULL,
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_sources (  -- a user's logins per console id (the request topic's)
    username TEXT NOT NULL,
    source TEXT NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,  -- failed logins in a row from this console
    locked_until REAL,               -- the user is locked at this console until then
    last_ok REAL,                    -- the last good login from it: a console known for the user
    changed REAL NOT NULL,
    PRIMARY KEY (username, source)
);
CREATE INDEX IF NOT EXISTS login_sources_changed ON login_sources(changed);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,     -- sha256 of the token; the token itself is only on the console
    username TEXT NOT NULL,
    console TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    ended REAL,
    seen REAL                        -- the session's last request: its console is in use
);
"""

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"
_USERNAME = re.compile(USERNAME_PATTERN)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
MAX_DISPLAY = 32
FORGET_FAILURES_S = 24 * 3600  # a console's failed logins in a row are forgotten a day after
KNOWN_CONSOLE_S = 90 * 24 * 3600  # a console stays known for a user this long after a login


class Role(StrEnum):
    DUTY = "duty"  # 值班员: claims and resolves alarms
    SUPERVISOR = "supervisor"  # 主管: also resolves (takes over) alarms claimed by others
    ADMIN = "admin"  # 管理员: also manages users

    @property
    def may_take_over(self) -> bool:
        return self is Role.SUPERVISOR

    @property
    def manages_users(self) -> bool:
        return self is Role.ADMIN


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int
    r: int
    p: int


# OWASP's minimum for scrypt: N=2^17, r=8, p=1 (128 MiB, about 0.6 s on a 2-core station PC).
SCRYPT = ScryptParams(n=2**17, r=8, p=1)


def hash_password(password: str) -> str:
    """A self-describing hash: ``scrypt$n=…,r=…,p=…$<salt>$<key>`` (base64)."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, SCRYPT)
    return (f"scrypt$n={SCRYPT.n},r={SCRYPT.r},p={SCRYPT.p}$"
            f"{base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}")


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check against a stored hash, with the parameters stored in it."""
    try:
        scheme, params, salt, key = encoded.split("$")
        if scheme != "scrypt":
            raise ValueError(f"unknown scheme {scheme!r}")
        p = dict(kv.split("=") for kv in params.split(","))
        cost = ScryptParams(int(p["n"]), int(p["r"]), int(p["p"]))
        want = base64.b64decode(key, validate=True)
        got = _scrypt(password, base64.b64decode(salt, validate=True), cost)
    except (ValueError, KeyError) as e:
        log.error("unreadable password hash (%s): treated as a wrong password", e)
        return False
    return hmac.compare_digest(got, want)


def _scrypt(password: str, salt: bytes, c: ScryptParams) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=c.n, r=c.r, p=c.p, dklen=32,
                          maxmem=256 * c.n * c.r * c.p + (1 << 20))


@cache
def _dummy_hash() -> str:
    """Checked for unknown users, so a wrong name takes as long as a wrong password."""
    return hash_password(secrets.token_hex(16))


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserError(ValueError):
    """A user change that cannot be made (unknown user, bad name, short password …)."""


class LoginRefused(Exception):
    """``code``, for the console to translate: bad_login (wrong name or password, or a
    disabled account: the same answer for each), locked (at this console), slowed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class User:
    username: str
    display: str
    role: Role
    disabled: bool
    created: float
    changed: float
    slowed_until: float | None


@dataclass(frozen=True, slots=True)
class Session:
    token: str  # given to the console once; stored only hashed
    user: User
    expires: float


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """What the first half of a login read; the slow password check goes between the halves."""

    username: str
    via: str  # the console id the login came from
    user: User | None
    password_hash: str | None  # None: no such user

    def check(self, password: str) -> bool:
        """Slow on purpose (scrypt); the station service runs it off its event loop."""
        return verify_password(password, self.password_hash or _dummy_hash())


Tx = Callable[[], AbstractContextManager[Db]]


class Users:
    """Accounts and sessions on the station database; ``tx`` opens a write
    transaction on ``db`` (the store's), in which each change and its audit entry commit."""

    def __init__(self, db: Db, tx: Tx, policy: LoginConfig) -> None:
        self._db, self._tx, self.policy = db, tx, policy

    # --- accounts ---------------------------------------------------------------------------

    def get(self, username: str) -> User | None:
        row = self._db.execute(f"SELECT {_USER_COLS} FROM users u WHERE username = ?",
                               (username,)).fetchone()
        return _user(row) if row else None

    def all_users(self) -> list[User]:
        return [_user(r) for r in self._db.execute(f"SELECT {_USER_COLS} FROM users u ORDER BY username")]

    def any_admin(self) -> bool:
        return self._db.execute("SELECT 1 FROM users WHERE role = ? AND disabled = 0",
                                (Role.ADMIN.value,)).fetchone() is not None

    def add(self, username: str, display: str, role: Role, password: str, *, actor: str,
            now: float) -> User:
        if not _USERNAME.match(username):
            raise UserError(f"bad username {username!r}: must match {USERNAME_PATTERN}")
        display = display.strip()
        if not 1 <= len(display) <= MAX_DISPLAY or not display.isprintable():
            raise UserError(f"a display name has 1 to {MAX_DISPLAY} printable characters")
        check_password(password)
        encoded = hash_password(password)
        with self._tx() as db:
            if not db.execute("INSERT INTO users(username, display, role, password, created, "
                              "changed) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                              (username, display, role.value, encoded, now, now)).rowcount:
                raise UserError(f"user {username!r} already exists")
            audit.append(db, actor=actor, action="user.add", target=username,
                         detail={"display": display, "role": role.value}, ts=now)
        return self._must(username)

    def set_password(self, username: str, password: str, *, actor: str, now: float) -> None:
        """A new password also ends the user's open sessions."""
        check_password(password)
        encoded = hash_password(password)
        with self._tx() as db:
            self._update(db, username, "password = ?", encoded, now=now)
            self._clear_failures(db, username, now)
            ended = self._end_sessions(db, username, now)
            audit.append(db, actor=actor, action="user.passwd", target=username,
                         detail={"sessions_ended": ended}, ts=now)

    def set_role(self, username: str, role: Role, *, actor: str, now: float) -> None:
        with self._tx() as db:
            before = self._must(username).role
            self._update(db, username, "role = ?", role.value, now=now)
            audit.append(db, actor=actor, action="user.role", target=username,
                         detail={"from": before.value, "to": role.value}, ts=now)

    def set_disabled(self, username: str, disabled: bool, *, actor: str, now: float) -> None:
        """Disabling ends the user's sessions, so enabling again does not revive them."""
        with self._tx() as db:
            self._update(db, username, "disabled = ?", int(disabled), now=now)
            ended = self._end_sessions(db, username, now) if disabled else 0
            audit.append(db, actor=actor, action="user.disable" if disabled else "user.enable",
                         target=username, detail={"sessions_ended": ended} if disabled else {},
                         ts=now)

    @staticmethod
    def _end_sessions(db: Db, username: str, now: float) -> int:
        return db.execute("UPDATE sessions SET ended = ? WHERE username = ? AND ended IS NULL",
                          (now, username)).rowcount

    def _update(self, db: Db, username: str, assignments: str, value: object, *,
                now: float) -> None:
        if not db.execute(f"UPDATE users SET {assignments}, changed = ? WHERE username = ?",
                          (value, now, username)).rowcount:
            raise UserError(f"no user {username!r}")

    def _must(self, username: str) -> User:
        if (user := self.get(username)) is None:
            raise UserError(f"no user {username!r}")
        return user

    # --- login ------------------------------------------------------------------------------

    def login(self, username: str, password: str, *, via: str, now: float) -> Session:
        """Check a password and open a session; raises LoginRefused."""
        attempt = self.begin_login(username, via=via, now=now)
        return self.finish_login(attempt, attempt.check(password), now=now)

    def begin_login(self, username: str, *, via: str, now: float) -> LoginAttempt:
        """First half of a login from console ``via``: refuses, without checking the password,
        a user locked at that console, or slowed down and not due yet at a console where
        they have not logged in before."""
        user = self.get(username)
        source = self._db.execute("SELECT locked_until, last_ok FROM login_sources WHERE "
                                  "username = ? AND source = ?", (username, via)).fetchone()
        locked_until, known = source if source else (None, None)
        if locked_until and now < locked_until:
            self._failed(username, via, "locked", now)
            raise LoginRefused("locked", f"too many failed logins at this console: try again in "
                               f"{locked_until - now:.0f} s, or at another console")
        if user and user.slowed_until and now < user.slowed_until and not known:
            self._failed(username, via, "slowed", now)
            raise LoginRefused("slowed", "many failed logins for this user: try again in "
                               f"{user.slowed_until - now:.0f} s")
        row = self._db.execute("SELECT password FROM users WHERE username = ?", (username,)).fetchone()
        return LoginAttempt(username, via, user, row[0] if row else None)

    def finish_login(self, attempt: LoginAttempt, password_ok: bool, *, now: float) -> Session:
        """Second half: count a failure or open a session for ``session_h``. A disabled or
        unknown user gets the same answer as a wrong password; the audit entry says which
        it was."""
        user, via = attempt.user, attempt.via
        if user is None or user.disabled or not password_ok:
            why = "unknown user" if user is None else "disabled" if user.disabled else "wrong password"
            self._failed(attempt.username, via, why, now)
            raise LoginRefused("bad_login", "wrong username or password")
        token, expires = secrets.token_urlsafe(32), now + self.policy.session_h * 3600
        with self._tx() as db:
            db.execute("DELETE FROM sessions WHERE expires < ?", (now,))
            db.execute("UPDATE users SET failed = 0, slowed_until = NULL WHERE username = ?",
                       (user.username,))
            db.execute("INSERT INTO login_sources(username, source, last_ok, changed) "
                       "VALUES (?,?,?,?) ON CONFLICT (username, source) DO UPDATE SET failed = 0, "
                       "locked_until = NULL, last_ok = excluded.last_ok, changed = excluded.changed",
                       (user.username, via, now, now))
            db.execute("INSERT INTO sessions(token_hash, username, console, created, expires, seen) "
                       "VALUES (?,?,?,?,?,?)", (token_hash(token), user.username, via, now, expires,
                                                now))
            audit.append(db, actor=user.username, action="login", target=user.username,
                         detail={"console": via, "role": user.role.value}, ts=now)
        log.info("login %s (%s) from %s", user.username, user.role.value, via)
        return Session(token, user, expires)

    def _failed(self, username: str, via: str, why: str, now: float) -> None:
        """Audit a refused login; a wrong password (or a disabled user's) counts: ``lock_after``
        in a row from one console lock the user there for ``lock_s``, and from ``slow_after``
        on since the last good login, anywhere, each slows the user down for ``slow_s``."""
        p = self.policy
        with self._tx() as db:
            detail: dict[str, Any] = {"reason": why, "console": via}
            db.execute("DELETE FROM login_sources WHERE changed < ? AND coalesce(last_ok, 0) < ?",
                       (now - FORGET_FAILURES_S, now - KNOWN_CONSOLE_S))
            if why in ("wrong password", "disabled"):
                total = db.execute("UPDATE users SET failed = failed + 1 WHERE username = ? "
                                   "RETURNING failed", (username,)).fetchone()[0]
                in_row = db.execute(
                    "INSERT INTO login_sources(username, source, failed, changed) VALUES (?,?,1,?) "
                    "ON CONFLICT (username, source) DO UPDATE SET failed = login_sources.failed + 1, "
                    "changed = excluded.changed "
                    "RETURNING failed", (username, via, now)).fetchone()[0]
                detail |= {"failures": in_row, "total": total}
                if in_row % p.lock_after == 0:
                    db.execute("UPDATE login_sources SET locked_until = ? WHERE username = ? AND "
                               "source = ?", (now + p.lock_s, username, via))
                    detail["locked_s"] = p.lock_s
                if total >= p.slow_after:
                    db.execute("UPDATE users SET slowed_until = ? WHERE username = ?",
                               (now + p.slow_s, username))
                    detail["slowed_s"] = p.slow_s
            audit.append(db, actor=username, action="login.failed", target=username,
                         detail=detail, ts=now)
        log.warning("failed login for %r from %s: %s%s", username, via, why,
                    f"; locked at that console for {p.lock_s:.0f} s" if "locked_s" in detail else "")

    def locked_at(self, username: str, *, now: float) -> int:
        """At how many consoles the user is locked now."""
        return int(self._db.execute("SELECT count(*) FROM login_sources WHERE username = ? AND "
                                    "locked_until > ?", (username, now)).fetchone()[0])

    def unlock(self, username: str, *, actor: str, now: float) -> int:
        """Clear the user's failed logins: the lock at every console and the slow-down.
        Returns at how many consoles the user was locked."""
        self._must(username)
        locked = self.locked_at(username, now=now)
        with self._tx() as db:
            failed = db.execute("SELECT failed FROM users WHERE username = ?",
                                (username,)).fetchone()[0]
            self._clear_failures(db, username, now)
            audit.append(db, actor=actor, action="user.unlock", target=username,
                         detail={"locked_at": locked, "failures": failed}, ts=now)
        return locked

    def _clear_failures(self, db: Db, username: str, now: float) -> None:
        self._update(db, username, "failed = ?, slowed_until = NULL", 0, now=now)
        db.execute("UPDATE login_sources SET failed = 0, locked_until = NULL WHERE username = ?",
                   (username,))

    def session_user(self, token: str, *, now: float) -> User | None:
        """The user of a live session, with their current role; None if the token is
        unknown, expired or logged out, or the user has been disabled since."""
        row = self._db.execute(
            f"SELECT {_USER_COLS} FROM sessions s JOIN users u USING (username) "
            "WHERE s.token_hash = ? AND s.ended IS NULL AND s.expires > ? AND u.disabled = 0",
            (token_hash(token), now)).fetchone()
        return _user(row) if row else None

    def seen(self, token: str, *, now: float) -> None:
        """The session made a request: its console is in use (``attended``)."""
        with self._tx() as db:
            db.execute("UPDATE sessions SET seen = ? WHERE token_hash = ? AND ended IS NULL",
                       (now, token_hash(token)))

    def attended(self, *, since: float, now: float) -> list[str]:
        """The consoles in use: a live session (not ended, not expired, its user enabled)
        that made a request since ``since``. None: the station is unattended."""
        return [r[0] for r in self._db.execute(
            "SELECT DISTINCT s.console FROM sessions s JOIN users u USING (username) WHERE "
            "s.ended IS NULL AND s.expires > ? AND u.disabled = 0 AND s.seen >= ? ORDER BY 1",
            (now, since))]

    def logout(self, token: str, *, now: float) -> User | None:
        user = self.session_user(token, now=now)
        if user is None:
            return None
        with self._tx() as db:
            db.execute("UPDATE sessions SET ended = ? WHERE token_hash = ?", (now, token_hash(token)))
            audit.append(db, actor=user.username, action="logout", target=user.username,
                         detail={}, ts=now)
        return user


_USER_COLS = "u.username, u.display, u.role, u.disabled, u.created, u.changed, u.slowed_until"


def _user(r: tuple[Any, ...]) -> User:
    return User(r[0], r[1], Role(r[2]), bool(r[3]), r[4], r[5], r[6])
