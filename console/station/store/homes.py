"""The homes: whether each is online (its status, or silence past the station's limit) and
their elder records as first set up (homes.yaml) or imported (a county's roster).

The database is the truth about a home once it is set up. homes.yaml, loaded at start, creates
the homes it lists that are missing, and its entry replaces a stored record only while that
record is still the file's: the entry's hash is kept as ``seed``, which an edit at the desk
(``elder_save``, ``elder_override``: :mod:`console.station.records_store`) marks as the desk's
(``desk:<hash>``); an imported record has none. So a township may correct homes.yaml and
restart during its first setup, while a record edited at the desk or imported is never written
over by the file: an entry changed in the file for such a home is logged once, not applied.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence

from console.casework.elder import ElderRecord
from console.station import audit
from console.station.config import Home
from console.station.records_store import DESK
from console.station.store.writer import Writer

log = logging.getLogger(__name__)


class RosterClash(Exception):
    """An import naming a home that holds a record already."""


class Homes(Writer):
    """Homes online or not, and homes.yaml's records (a part of StationStore)."""

    def load_homes(self, homes: list[Home], *, actor: str = "homes.yaml",
                   now: float | None = None) -> list[str]:
        """Store the elder records of homes.yaml: a missing home is created, a stored one
        replaced only when its entry in the file changed since it was last applied and the
        record is still the file's (see the module docstring). Each home whose record changed
        gets an audit entry naming the fields that changed (not their values: the record
        itself is the personal data). Returns the hubs that changed."""
        now = time.time() if now is None else now
        changed, kept = [], []
        with self._tx() as db:
            for h in homes:
                new = h.elder.model_dump(mode="json")
                seed = hashlib.sha256(audit.canonical(new).encode()).hexdigest()
                row = db.execute("SELECT elder, seed FROM homes WHERE hub = ?", (h.hub,)).fetchone()
                old = json.loads(row[0]) if row and row[0] else None
                if old is not None and row[1] == seed:
                    continue  # the file's entry is as last applied: the stored record stands
                if old is not None and (row[1] is None or row[1].startswith(DESK)):
                    if row[1] != DESK + seed:  # the entry changed since: say so once
                        db.execute("UPDATE homes SET seed = ? WHERE hub = ?", (DESK + seed, h.hub))
                        if old != new:
                            kept.append(h.hub)
                    continue  # edited at the desk or imported: the database's record stands
                db.execute("INSERT INTO homes(hub, elder, seed, added) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT(hub) DO UPDATE SET elder = excluded.elder, seed = "
                           "excluded.seed, added = coalesce(homes.added, excluded.added)",
                           (h.hub, h.elder.model_dump_json(), seed, now))
                if old == new:
                    continue
                fields = sorted(h.elder.model_dump(exclude_defaults=True) if old is None else
                                (k for k in new.keys() | old.keys() if old.get(k) != new.get(k)))
                audit.append(db, actor=actor, action="elder.record", target=h.hub,
                             detail={"added": old is None, "fields": fields}, ts=now)
                if old is not None and old.get("category") != new["category"]:
                    # as the desk's changes of group are: a past month's roster reads it back
                    audit.append(db, actor=actor, action="elder.category", target=h.hub,
                                 detail={"from": old.get("category"), "to": new["category"]}, ts=now)
                changed.append(h.hub)
        if kept:
            log.warning("%s: %d home(s) differ from their records at the station, which were "
                        "edited at the desk or imported and stand (%s%s); change them at the "
                        "console", actor, len(kept), ", ".join(kept[:10]), " …" * (len(kept) > 10))
        return changed

    def import_elders(self, records: Sequence[tuple[str, ElderRecord]], *, file: str, digest: str,
                      actor: str, now: float) -> None:
        """Store a county roster's new records all in one transaction, audited as one
        ``elder.import`` entry (the file, its sha256, the count): a home already holding a
        record refuses the whole import (RosterClash), so nothing is half-imported and no
        record edited at the desk is written over. A hub heard before its record was stored
        (a row without ``elder``) takes it."""
        if not records:
            return
        with self._tx() as db:
            db.executemany("INSERT INTO homes(hub, elder, added) VALUES (?, ?, ?) ON CONFLICT(hub) "
                           "DO UPDATE SET elder = excluded.elder, seed = NULL, added = excluded.added "
                           "WHERE homes.elder IS NULL", [(hub, r.model_dump_json(), now)
                                                         for hub, r in records])
            hubs = [hub for hub, _ in records]
            stored = 0  # rows that took this import's record (in parts: SQL has a bound on '?')
            for i in range(0, len(hubs), 500):
                part = hubs[i:i + 500]
                stored += db.execute(f"SELECT count(*) FROM homes WHERE added = ? AND hub IN "
                                     f"({','.join('?' * len(part))})", (now, *part)).fetchone()[0]
            if stored != len(records):  # another writer stored some of these homes meanwhile
                raise RosterClash(f"{len(records) - stored} of the file's homes got a record at "
                                  "the station while it was read; nothing was imported: read it again")
            audit.append(db, actor=actor, action="elder.import", target=file,
                         detail={"file": file, "sha256": digest, "count": len(records)}, ts=now)

    def set_online(self, hub: str, online: bool, now: float) -> bool:
        """Record availability; True if it changed."""
        with self._tx() as db:
            db.execute("INSERT INTO homes(hub) VALUES (?) ON CONFLICT DO NOTHING", (hub,))
            cur = db.execute("UPDATE homes SET online = ?, status_ts = ? WHERE hub = ? AND "
                             "online != ?", (int(online), now, hub, int(online)))
        return bool(cur.rowcount)

    def mark_silent_offline(self, cutoff: float, now: float) -> list[str]:
        """Homes online but silent since before ``cutoff`` go offline; returns their ids."""
        with self._tx() as db:
            # One statement: a heartbeat another worker is storing holds the home's row, and
            # PostgreSQL checks the silence again on what it committed.
            return [r[0] for r in db.execute(
                "UPDATE homes SET online = 0, status_ts = ? WHERE online = 1 "
                "AND coalesce(last_heartbeat, status_ts, 0) < ? RETURNING hub", (now, cutoff))]
