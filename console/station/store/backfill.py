"""Each home's summary made from its stored events after the upgrade that brings
``home_summary``, in the background of the station service, beside ingest: the migration only
lists the homes (``summary_backfill``), so a station starts at once however long its history,
where making every summary in the migration held every worker's start for hours in a county.

A home at a time: its latest events read and folded on the loop a part at a time (a query
of 200, about 2 ms: alarms go between), then merged into the summary ingest has kept since
the upgrade in a short commit under the hub's lock. Folding is order-independent and
idempotent (:mod:`~console.station.store.summary`), so an event stored before its part was
read and folded at ingest too counts once, and one stored after it is in the summary ingest
kept. Every worker runs the task: the list's row, deleted in the merge's commit, says which
worker made a home's (the other's merge writes nothing); each takes the homes in order from
one drawn at random, so two seldom read the same. Until its turn a home's card and roster
figures show what was heard since the upgrade.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from console.station.store import summary
from console.station.store.station import StationStore

log = logging.getLogger(__name__)

HOMES = 8  # homes a round
# events read and folded between two turns of the loop (about 2 ms). Not a thread of its own:
# folding there held the loop up to 35 ms (two threads taking turns at Python's lock)
PART = 200
PAUSE_S = 0.02  # between turns: the backfill yields the database to ingest
REPORT_S = 30.0  # progress logged at most this often


class Backfill:
    """The task's rounds: ``tasks.loop("summary backfill", Backfill(store).round)``."""

    def __init__(self, store: StationStore) -> None:
        self._store = store
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
        for hub in hubs:
            made, below, left = summary.empty(), None, summary.MIGRATED_EVENTS
            while left > 0:
                rows = self._store.events_of(hub, min(PART, left), below)
                summary.fold_rows(made, rows)
                await asyncio.sleep(0)
                if len(rows) < min(PART, left):
                    break
                left, below = left - len(rows), (rows[-1][1], rows[-1][3])
            self.built += self._store.backfill_summary(hub, made)
            await asyncio.sleep(0)  # a commit at a time: what waits on the loop goes between
        if time.monotonic() - self._reported >= REPORT_S:
            self._reported = time.monotonic()
            log.info("summaries built for %d of %d homes", max(
                0, self._total - self._store.summaries_to_build()), self._total)
        await asyncio.sleep(PAUSE_S)

