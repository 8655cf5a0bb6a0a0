"""What the doctor found: one finding per line, as text for the installer or JSON for tools."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"  # works, but something will bite later (an expiring certificate, a full disk soon)
    FAIL = "FAIL"  # the hub or station will not do its job until this is fixed
    SKIP = "SKIP"  # does not apply here (no radar, a simulated device, a config that does not load)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # radar, bluetooth, broker, ...: the same name for every line of one check
    status: Status
    found: str  # what the doctor saw
    fix: str = ""  # what to do about it: a command or an action (WARN and FAIL only)


def ok(check: str, found: str) -> Finding:
    return Finding(check, Status.OK, found)


def warn(check: str, found: str, fix: str) -> Finding:
    return Finding(check, Status.WARN, found, fix)


def fail(check: str, found: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, found, fix)


def skip(check: str, why: str) -> Finding:
    return Finding(check, Status.SKIP, why)


def problem(check: str, serious: bool, found: str, fix: str) -> Finding:
    """FAIL or WARN for the same finding, where how bad it is depends on the home."""
    return (fail if serious else warn)(check, found, fix)


def exit_code(findings: list[Finding]) -> int:
    return 1 if any(f.status is Status.FAIL for f in findings) else 0


def summary(findings: list[Finding]) -> str:
    n = Counter(f.status for f in findings)
    if not n[Status.FAIL] and not n[Status.WARN]:
        return f"all {n[Status.OK]} checks OK"
    said = [f"{n[s]} {s}" for s in (Status.FAIL, Status.WARN, Status.OK) if n[s]]
    then = "fix the FAIL lines first" if n[Status.FAIL] else "nothing is failing"
    return f"{', '.join(said)}: {then}"


def render_text(header: str, findings: list[Finding]) -> str:
    width = max((len(f.check) for f in findings), default=0)
    lines = [header]
    for f in findings:
        line = f"{f.status:<4}  {f.check:<{width}}  {f.found}"
        lines.append(f"{line} — fix: {f.fix}" if f.fix else line)
    lines.append(summary(findings))
    return "\n".join(lines)


def render_json(meta: dict[str, object], findings: list[Finding]) -> str:
    n = Counter(f.status for f in findings)
    doc = {**meta, "ok": not n[Status.FAIL], "fail": n[Status.FAIL], "warn": n[Status.WARN],
           "checks": [asdict(f) for f in findings]}
    return json.dumps(doc, ensure_ascii=False, indent=2)
