"""Each home's summary made from its stored events after the upgrade that brings
``home_summary``, in the background of the station service, beside ingest: the migration only
lists the homes (``summary_backfill``), so a station starts at once however long its history,
where making every summary in the migration held every worker's start for hours in a county.

A home at a time: its latest events read on a connection of the task's own, in a thread (the
loop goes on storing alarms meanwhile), folded on the loop a slice at a time, then merged
into the summary ingest has kept since the upgrade in a short commit under the hub's lock.
Folding is order-independent and idempotent (:mod:`~console.station.store.summary`), so an
event stored before the read and folded at ingest too counts once, and one stored after it is
in the summary ingest kept. Every worker runs the task: the list's row, deleted in the
merge's commit, says which worker made a home's (the other's merge writes nothing); each
takes the homes in order from one drawn at random, so two seldom read the same. Until its
turn a home's card and roster figures show what was heard since the upgrade.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from console.station.store import summary
from console.station.store.db import Db, Location
from console.station.store.station import StationStore

log = logging.getLogger(__name__)

HOMES = 8  # homes read in one thread's turn (one connection opened for them)
SLICE = 200  # events folded between two turns of the loop (about 2 ms)
PAUSE_S = 0.02  # between turns: the backfill yields the database to ingest
REPORT_S = 30.0  # progress logged at most this often


class Backfill:
    """The task's rounds: ``tasks.loop("summary backfill", Backfill(store, location).round)``."""

    def __init__(self, store: StationStore, location: Location) -> None:
        self._store, self._location = store, location
        self._total: int | None = None  # homes listed when the task began
        self._after = ""  # the homes are taken in order after this one, then from the first
        self.built = 0  # homes this worker made
        self._began = self._reported = time.monotonic()

    async def round(self) -> None:
        """Make a few homes' summaries; when none is left, log it and wait for good (the
        list only grows at an upgrade, at start)."""
        if self._total is None:
            self._total = self._store.summaries_to_build()
            if self._total:
                log.info("making %d homes' summaries from their stored events (roster figures "
                         "fill in meanwhile)", self._total)
                # from a home drawn at random: two workers seldom read the same homes
                drawn = self._store.homes_to_build(1, skip=random.randrange(self._total))
                self._after = drawn[0] if drawn else ""
        hubs = self._store.homes_to_build(HOMES, after=self._after) or self._store.homes_to_build(HOMES)
        if not hubs:
            if self._total:
                log.info("summaries built for all %d homes in %.0f s (%d here)", self._total,
                         time.monotonic() - self._began, self.built)
            await asyncio.Event().wait()
        self._after = hubs[-1]
        for hub, rows in await asyncio.to_thread(read, self._location, hubs):
            made = summary.empty()
            for i in range(0, len(rows), SLICE):  # the JSON, in Python: a few ms at a time
                summary.fold_rows(made, rows[i:i + SLICE])
                await asyncio.sleep(0)
            self.built += self._store.backfill_summary(hub, made)
            await asyncio.sleep(0)  # a commit at a time: what waits on the loop goes between
        if time.monotonic() - self._reported >= REPORT_S:
            self._reported = time.monotonic()
            log.info("summaries built for %d of %d homes", max(
                0, self._total - self._store.summaries_to_build()), self._total)
        await asyncio.sleep(PAUSE_S)


def read(location: Location, hubs: list[str]) -> list[tuple[str, list[tuple[str, float, str]]]]:
    """Each home's latest stored events, on a read-only connection of its own, in a thread
    (never the store's connection). Only the reading: folding them in the thread too held
    the loop up to 35 ms (the two threads taking turns at Python's lock, 5 ms a turn)."""
    db = Db.open(location, readonly=True)
    try:
        return [(hub, summary.stored(db, hub, summary.MIGRATED_EVENTS)) for hub in hubs]
    finally:
        db.close()
