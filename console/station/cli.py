"""``anxin user …`` and ``anxin audit …``: console accounts and the audit log, on the station PC.

Both work on the station database directly (the service need not run). Once the station has
an enabled admin, every user change names one (``--admin``) and gives that admin's password;
before that, the first accounts are made as the operating-system user (``os:<login>``), who
can write the database anyway. Passwords are read with getpass, or from standard input with
``--password-stdin`` (one per line: the admin's first), never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from console.station.store.reader import StationReader
    from console.station.users import Users

ROLES = ("duty", "supervisor", "admin")
USER_HELP = ("Console accounts, on the station database (the station service need not run). "
             "Once the station has an enabled admin, every change names one with --admin and "
             "gives that admin's password; the first accounts are made as the operating-system "
             "user. Passwords are asked for, or read from standard input with --password-stdin "
             "(one per line, the admin's first); never given on the command line.")


def user_arguments(u: argparse.ArgumentParser) -> None:
    """Declare ``anxin user``'s actions and their arguments."""
    u.description = USER_HELP
    usub = u.add_subparsers(dest="action", required=True, metavar="ACTION")

    def change(name: str, text: str, fn: Callable[[argparse.Namespace, Users, str, str], str],
               *, password: bool = False, supervisor: bool = False) -> argparse.ArgumentParser:
        p = usub.add_parser(name, help=text)
        _config(p)
        p.add_argument("username", metavar="NAME")
        p.add_argument("--admin", *(["--supervisor"] if supervisor else []), dest="admin",
                       metavar="ADMIN", help="the admin " + ("or supervisor " if supervisor else "")
                       + "making the change (asked for their password); needed once the "
                       "station has an admin")
        p.add_argument("--password-stdin", action="store_true", help="read passwords from "
                       "standard input, one per line: the admin's first" +
                       (", then the new one" if password else ""))
        p.set_defaults(fn=lambda a: _change(a, fn, new_password=password, supervisor=supervisor))
        return p

    p = change("add", "add a user", _add, password=True)
    p.add_argument("--role", choices=ROLES, required=True,
                   help="duty 值班员, supervisor 主管 (may take over others' alarms), admin 管理员 "
                   "(manages users)")
    p.add_argument("--display", required=True, help="the name shown on alarms the user claims")
    change("passwd", "set a user's password (ends their sessions)", _passwd, password=True)
    change("role", "change a user's role", _role).add_argument("role", choices=ROLES)
    change("disable", "stop a user logging in (their sessions stop at once)", _disable)
    change("enable", "let a disabled user log in again", _enable)
    change("unlock", "clear a user's failed logins: the lock at every console and the slow-down "
           "(a supervisor may too)", _unlock, supervisor=True)
    p = usub.add_parser("list", help="list users, their roles and whether they can log in")
    _config(p)
    p.set_defaults(fn=_list)


def audit_arguments(a: argparse.ArgumentParser) -> None:
    """Declare ``anxin audit``'s actions and their arguments."""
    a.description = ("Every alarm action, login and user or elder-record change is in a hash "
                     "chain. `verify` prints the head hash for the shift report; `verify "
                     "--expect` checks later that nothing after it was cut off.")
    asub = a.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = asub.add_parser("verify", help="walk the hash chain; print the count and head hash, or "
                        "the first broken entry (exit 1)")
    _config(p)
    p.add_argument("--expect", metavar="HASH", help="a head hash written down earlier (e.g. in "
                   "the shift report): fail if the chain no longer contains it")
    p.set_defaults(fn=_verify)
    p = asub.add_parser("show", help="list audit entries")
    _config(p)
    p.add_argument("--since", type=_when, help="from this date or time in the county's zone "
                   "(county.yaml timezone; 2026-11-23, '2026-11-23 08:00')")
    p.add_argument("--target", help="only entries about this alarm id, username or hub")
    p.set_defaults(fn=_show)


def _config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=Path("/etc/anxin/station.yaml"))


def _when(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or time: {text!r}") from None


def _store(a: argparse.Namespace, *, readonly: bool = False) -> StationReader:
    """The station database, to write (a StationStore) or ``readonly``; its ``tz`` is the
    county's (county.yaml ``timezone``), in which times are printed and typed."""
    from console.casework.county import load_county
    from console.station.config import load_station_config
    from console.station.store.reader import StationReader
    from console.station.store.station import StationStore

    cfg = load_station_config(a.config)
    tz = load_county(cfg.county_file).tz
    if not readonly:
        return StationStore(cfg.location, login=cfg.login, tz=tz)
    if cfg.store.engine == "sqlite" and not cfg.database.exists():
        raise SystemExit(f"anxin {a.command}: no station database at {cfg.database}")
    return StationReader.open(cfg.readonly_location, tz=tz)


class _Passwords:
    """Passwords from getpass, or one per line from standard input."""

    def __init__(self, stdin: TextIO | None) -> None:
        self._stdin = stdin

    def __call__(self, prompt: str, *, twice: bool = False) -> str:
        if self._stdin is not None:
            return self._stdin.readline().rstrip("\n")
        first = getpass.getpass(prompt)
        if twice and getpass.getpass("again: ") != first:
            raise _Refused("the two passwords differ")
        return first


class _Refused(Exception):
    pass


def _change(a: argparse.Namespace, fn: Callable[[argparse.Namespace, Users, str, str], str], *,
            new_password: bool, supervisor: bool) -> int:
    """Authenticate the admin (if the station has one; for some changes a supervisor will
    do), make the change, log the admin out."""
    from console.station.users import LoginRefused, Role, UserError

    store = _store(a)
    users, now = store.users, time.time()
    ask = _Passwords(sys.stdin if a.password_stdin else None)
    token = None
    try:
        if a.admin or users.any_admin():
            if not a.admin:
                raise _Refused("this station has an admin: name one with --admin")
            session = users.login(a.admin, ask(f"password of admin {a.admin}: "), via="cli", now=now)
            token = session.token
            role = session.user.role
            if not (role.manages_users or (supervisor and role is Role.SUPERVISOR)):
                raise _Refused(f"{a.admin} is not an admin{' or supervisor' * supervisor}")
            actor = a.admin
        else:
            actor = f"os:{getpass.getuser()}"
            print(f"anxin user: the station has no admin yet; acting as {actor}", file=sys.stderr)
        password = ask(f"new password for {a.username}: ", twice=True) if new_password else ""
        print(fn(a, users, actor, password))
        return 0
    except (_Refused, UserError, LoginRefused) as e:
        print(f"anxin user {a.action}: {e}", file=sys.stderr)
        return 1
    finally:
        if token:
            users.logout(token, now=time.time())
        store.close()


def _add(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    from console.station.users import Role

    u = users.add(a.username, a.display, Role(a.role), password, actor=actor, now=time.time())
    return f"added {u.username} ({u.display}, {u.role.value})"


def _passwd(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    users.set_password(a.username, password, actor=actor, now=time.time())
    return f"password of {a.username} changed; their sessions have ended"


def _role(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    from console.station.users import Role

    users.set_role(a.username, Role(a.role), actor=actor, now=time.time())
    return f"{a.username} is now {a.role}"


def _disable(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    users.set_disabled(a.username, True, actor=actor, now=time.time())
    return f"{a.username} disabled"


def _enable(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    users.set_disabled(a.username, False, actor=actor, now=time.time())
    return f"{a.username} enabled"


def _unlock(a: argparse.Namespace, users: Users, actor: str, password: str) -> str:
    locked = users.unlock(a.username, actor=actor, now=time.time())
    return f"{a.username} unlocked (was locked at {locked} console(s)); failed logins cleared"


def _list(a: argparse.Namespace) -> int:
    store = _store(a, readonly=True)
    now = time.time()
    rows = [("USER", "DISPLAY", "ROLE", "STATE", "CHANGED")]
    for u in store.users.all_users():
        locked = store.users.locked_at(u.username, now=now)
        state = ("disabled" if u.disabled else f"locked at {locked} console(s)" if locked else
                 f"slowed until {_clock(u.slowed_until, store.tz)}"
                 if u.slowed_until and u.slowed_until > now
                 else "active")
        rows.append((u.username, u.display, u.role.value, state, _clock(u.changed, store.tz)))
    store.close()
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _verify(a: argparse.Namespace) -> int:
    store = _store(a, readonly=True)
    v = store.verify_audit(a.expect)
    store.close()
    if v.ok:
        print(f"OK: {v.count} entries, head {v.head}")
        return 0
    print(f"BROKEN at seq {v.broken_seq}: {v.reason} ({v.count} entries verified before it, "
          f"last good hash {v.head})")
    return 1


def _show(a: argparse.Namespace) -> int:
    from console.station.audit import canonical

    store = _store(a, readonly=True)
    since = a.since and a.since.replace(tzinfo=a.since.tzinfo or store.tz).timestamp()
    for e in store.audit_entries(since=since, target=a.target):
        print(f"{e.seq:>6}  {_clock(e.ts, store.tz)}  {e.actor}  {e.action}  {e.target}  "
              f"{canonical(e.detail)}")
    store.close()
    return 0


def _clock(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d %H:%M:%S")
