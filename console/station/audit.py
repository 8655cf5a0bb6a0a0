"""The audit log: an append-only, hash-chained record of who did what at the station.

Each entry is written in the same transaction as the change it records, so a change
and its entry are committed (or lost) together. Each entry's hash covers the previous entry's
hash and the entry itself, so editing, deleting or moving an entry breaks the chain at that
point. Rewriting the whole tail is caught only against a head hash written down earlier
(``anxin audit verify`` prints it for the shift report; ``--expect`` checks it is still there).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from console.station.store.db import Db

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,         -- 1, 2, 3 … with no gaps
    ts REAL NOT NULL,                -- station time
    actor TEXT NOT NULL,             -- username, hub id, 'homes.yaml', or 'os:<login>' for the CLI
    action TEXT NOT NULL,            -- e.g. alarm.claim, login.failed, user.role, elder.record
    target TEXT NOT NULL,            -- alarm id, username, hub id
    detail TEXT NOT NULL,            -- canonical JSON
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL               -- sha256(prev_hash + canonical entry), hex
);
"""  # and its guards against UPDATE and DELETE: Db.append_only

GENESIS = "0" * 64  # prev_hash of the first entry


def canonical(obj: object) -> str:
    """One text per value, so the same entry always hashes the same."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    ts: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def digest(self, seq: int | None = None) -> str:
        """The hash this entry should carry (at ``seq``, to test whether it was moved)."""
        body = canonical({"seq": self.seq if seq is None else seq, "ts": self.ts,
                          "actor": self.actor, "action": self.action, "target": self.target,
                          "detail": self.detail})
        return hashlib.sha256((self.prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    count: int
    head: str  # hash of the last entry (GENESIS for an empty log)
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def append(db: Db, *, actor: str, action: str, target: str,
           detail: dict[str, Any], ts: float) -> None:
    """Add an entry to the caller's write transaction (the one that makes the change): it is
    chained on when that transaction commits (:func:`chain`), so the two commit together."""
    if not db.in_transaction:
        raise RuntimeError("audit entries are written inside the transaction of their change")
    db.audit_pending.append(Entry(0, float(ts), actor, action, target,
                                  json.loads(canonical(detail)), "", ""))


def chain(db: Db) -> None:
    """Write the transaction's entries at the head of the chain, just before it commits.
    The head is held (:meth:`Db.lock`) so that no other writer takes the same seq, and held
    last: a writer holding it waits for nothing else, so writers never wait in a circle."""
    pending: list[Entry] = db.audit_pending
    if not pending:
        return
    db.lock("audit")
    last = db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    for e in pending:
        draft = Entry(seq, e.ts, e.actor, e.action, e.target, e.detail, prev, "")
        entry = Entry(seq, e.ts, e.actor, e.action, e.target, e.detail, prev, draft.digest())
        db.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?)",
                   (seq, entry.ts, entry.actor, entry.action, entry.target,
                    canonical(entry.detail), prev, entry.hash))
        seq, prev = seq + 1, entry.hash
    pending.clear()


def entries(db: Db, *, since: float | None = None,
            target: str | None = None) -> list[Entry]:
    sql, args = "SELECT * FROM audit WHERE 1 = 1", list[object]()
    if since is not None:
        sql, args = sql + " AND ts >= ?", [*args, since]
    if target is not None:
        sql, args = sql + " AND target = ?", [*args, target]
    return [_entry(r) for r in db.execute(sql + " ORDER BY seq", args)]


def verify(db: Db, expect: str | None = None) -> Verdict:
    """Walk the chain from seq 1; stop at the first entry that is not what was written.
    ``expect``: a head hash noted earlier, which must still be in the chain."""
    rows = db.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    hashes = {r[7] for r in rows}
    prev, seen = GENESIS, {GENESIS}
    for want, r in enumerate(rows, start=1):
        if r[0] != want:
            gap = f"entries {want}–{r[0] - 1} are" if r[0] > want + 1 else f"entry {want} is"
            return Verdict(want - 1, prev, want, f"{gap} missing (deleted)")
        try:
            e = _entry(r)
        except ValueError:
            return Verdict(want - 1, prev, want, "its detail is not JSON (edited)")
        if e.digest() != e.hash:
            return Verdict(want - 1, prev, want, _why_mismatch(e, len(rows), hashes))
        if e.prev_hash != prev:
            return Verdict(want - 1, prev, want, f"it does not follow entry {want - 1}: that "
                           "entry was rewritten and re-hashed, or entries before it were deleted")
        prev = e.hash
        seen.add(prev)
    if expect is not None and expect not in seen:
        return Verdict(len(rows), prev, len(rows) + 1,
                       f"the expected head {expect} is not in the chain: entries after it were "
                       "deleted or the log was rewritten")
    return Verdict(len(rows), prev)


def _why_mismatch(e: Entry, count: int, hashes: set[str]) -> str:
    """An entry that hashes right under another seq was moved: by reordering if the entry it
    followed is still there, else by deleting entries and renumbering the rest."""
    moved = next((s for s in range(1, count + 2) if s != e.seq and e.digest(s) == e.hash), None)
    if moved is None:
        return "its content does not match its hash (edited)"
    if e.prev_hash in hashes or e.prev_hash == GENESIS:
        return f"this is entry {moved}, moved here (reordered)"
    return f"this is entry {moved}: entries before it were deleted and the rest renumbered"


def _entry(r: tuple[Any, ...]) -> Entry:
    return Entry(seq=r[0], ts=r[1], actor=r[2], action=r[3], target=r[4], detail=json.loads(r[5]),
                 prev_hash=r[6], hash=r[7])
