"""The machine itself: its clock, the data folder's disk, and the SQLite databases in it."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from hub.cli.doctor.report import Finding, fail, ok, warn
from hub.cli.doctor.system import System

MB = 1 << 20
FAIL_BELOW = 100 * MB  # a day of telemetry backlog is a few MB; below this, alarms may not fit
WARN_BELOW = 1024 * MB
NTP_FIX = ("`sudo timedatectl set-ntp true`, and let NTP (UDP port 123) reach a time server: a "
           "Pi has no battery clock, so after each boot its time is wrong until NTP syncs "
           "(alarm times, certificate dates)")


def clock(system: System) -> list[Finding]:
    """NTP-synchronised, by systemd's word or else the kernel's."""
    synced, source = system.ntp_synchronized(), "timedatectl"
    if synced is None:
        synced, source = system.kernel_synchronized(), "the kernel (adjtimex)"
    now = f"it is {system.now():%Y-%m-%d %H:%M} UTC here"
    if synced is None:
        return [warn("clock", f"cannot tell whether the clock is synchronised; {now}", NTP_FIX)]
    if not synced:
        return [warn("clock", f"not synchronised, says {source}; {now}", NTP_FIX)]
    return [ok("clock", f"synchronised ({source}); {now}")]


def disk(folder: Path, system: System, *, service: str) -> list[Finding]:
    """The folder is there (or can be made) and writable, with room on its filesystem."""
    make = f"`sudo install -d -o {system.user} -m 0750 {folder}`"
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    findings = []
    if existing != folder:
        if not system.access(existing, os.W_OK | os.X_OK):
            findings.append(warn("disk", f"{folder} does not exist, and {system.user} cannot make it",
                                 f"{make} (under systemd, the {service} unit's StateDirectory "
                                 "makes /var/lib/anxin itself)"))
    elif not folder.is_dir():
        return [fail("disk", f"{folder} is not a folder", f"move it away, then {make}")]
    elif not system.access(folder, os.W_OK | os.X_OK):
        findings.append(fail("disk", f"{system.user} cannot write to {folder}",
                             f"`sudo chown -R {system.user} {folder}`"))
    st = system.statvfs(existing)
    free = st.f_bavail * st.f_frsize
    room = f"{_size(free)} free of {_size(st.f_blocks * st.f_frsize)}"
    clean = (f"make room on the filesystem of {existing}: `sudo journalctl --vacuum-size=50M`, "
             "`sudo apt clean`; `sudo du -xh / | sort -h | tail` shows what is big")
    if free < FAIL_BELOW:
        findings.append(fail("disk", f"{folder}: only {room}", clean))
    elif free < WARN_BELOW:
        findings.append(warn("disk", f"{folder}: only {room}", clean))
    if findings:
        return findings
    made = "" if existing == folder else " (made at first start)"
    return [ok("disk", f"{folder}{made}: writable, {room}")]


def database(path: Path, system: System, *, check: str, damaged: str) -> list[Finding]:
    """The SQLite file is ours to write and intact (quick_check, read-only)."""
    if not path.exists():
        return [ok(check, f"{path} does not exist yet; made at first start")]
    if not (system.access(path, os.R_OK | os.W_OK) and system.access(path.parent, os.W_OK | os.X_OK)):
        return [fail(check, f"{system.user} cannot write {path} and its folder (SQLite writes its "
                     "journal beside it)", f"`sudo chown {system.user} {path} {path.parent}`")]
    try:
        result = system.quick_check(path)
    except sqlite3.DatabaseError as e:
        return [fail(check, f"{path} cannot be read as a database ({e})", damaged)]
    if result != "ok":
        return [fail(check, f"{path} is damaged: {result}", damaged)]
    return [ok(check, f"{path}: intact (quick_check), {_size(path.stat().st_size)}")]


def _size(n: int) -> str:
    if n < MB:
        return f"{n / 1024:.0f} KB"
    return f"{n / MB:.0f} MB" if n < 10 * 1024 * MB else f"{n / (1024 * MB):.1f} GB"
