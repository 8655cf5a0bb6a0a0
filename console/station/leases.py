"""Which partitions a county station worker pulls: leases in a JetStream key-value bucket.

Sans-IO: what the bucket held at one read (a :class:`View`), this worker's name and home
partitions (``nats.take``) and a monotonic clock in, a :class:`Plan` of writes out; the adapter
(console/station/jetstream.py) does the writes and tells the outcome back. The bucket keeps
two keys a partition, each written with the bucket's TTL (``nats.lease_s``), so a dead
worker's keys lapse by themselves:

- ``p.<n>``, the *lease*: the worker pulling partition n. Claimed with a create (refused if
  the key exists), renewed with a compare-and-set on its revision, released with a delete.
- ``h.<n>``, the *home*: the worker that has n in its ``take`` is alive and wants it.

A worker claims its home partitions whenever they are free, and another's only when no home
worker is alive for it (its ``h`` key lapsed too) at two rounds in a row (a cluster back from
an outage longer than a lease has every key lapsed, and the home workers write theirs again at
their first round), and once it has itself run for a whole lease (so workers starting together
first find each other). It gives back a partition it holds for another as soon as that one's
home key is there again, after its current batch. A lease that names this worker and that
it did not know it held (a create whose reply was lost, a restart within a lease of a kill) is
adopted: renewed on the revision seen, then pulled, rather than left idle until it lapses.

Why one worker a partition at a time, and what guards a worker paused past its lease (the
split-brain window): docs/county.md, "Taking over a dead worker's partitions".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RENEWALS = 4  # a lease is renewed this many times within its TTL


def lease_key(partition: int) -> str:
    return f"p.{partition}"


def home_key(partition: int) -> str:
    return f"h.{partition}"


@dataclass(frozen=True, slots=True)
class Lease:
    holder: str
    revision: int


@dataclass(frozen=True, slots=True)
class View:
    """The bucket at one read: each held partition's lease, and the worker alive whose home
    each partition is (a partition missing from either has no such key)."""

    leases: Mapping[int, Lease] = field(default_factory=dict)
    homes: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """A round's writes: ``homes`` (put ``h.<n>``), ``claim`` (create ``p.<n>``), ``renew``
    (partition: the revision to compare-and-set on), ``release`` (stop pulling after the
    current batch, then delete), and ``lost`` (leases no longer ours: pulling has stopped)."""

    homes: list[int]
    claim: list[int]
    renew: dict[int, int]
    release: list[int]
    lost: list[int]


class Leases:
    """One worker's leases. ``guard_s``: how long before a lease could lapse at the server
    this worker stops pulling (a fetch in flight, and a margin): a renewal sent at t keeps
    the partition until t + ``lease_s`` - ``guard_s`` on this worker's clock, while the
    server keeps the key until lease_s after it stored that renewal, which is later."""

    def __init__(self, me: str, home: Iterable[int], *, partitions: int, lease_s: float,
                 guard_s: float, now: float) -> None:
        self.me, self.home, self.partitions = me, frozenset(home), partitions
        self.lease_s, self.guard_s = lease_s, guard_s
        self._started = now
        self._held: dict[int, int] = {}  # partition: revision of our last write
        self._until: dict[int, float] = {}  # partition: pull no later than this
        self._releasing: set[int] = set()
        self._free_before: set[int] = set()  # another's partitions free at the last round

    @property
    def every_s(self) -> float:
        """How often the adapter reads the bucket and writes a plan."""
        return self.lease_s / RENEWALS

    @property
    def held(self) -> list[int]:
        return sorted(self._held)

    def may_pull(self, partition: int, now: float) -> bool:
        """True while this worker alone pulls ``partition``: asked before each fetch, and
        again before a fetched batch is handed to the station."""
        return (partition in self._held and partition not in self._releasing
                and now < self._until.get(partition, now))

    def plan(self, view: View, now: float) -> Plan:
        lost, renew, release = [], {}, []
        for p, rev in list(self._held.items()):
            lease = view.leases.get(p)
            if lease is None or lease.holder != self.me:  # lapsed, or another's now
                self._drop(p)
                lost.append(p)
                continue
            if lease.revision != rev:  # a renewal that timed out here and landed there
                self._held[p] = lease.revision
            renew[p] = lease.revision
            if p not in self.home and view.homes.get(p, self.me) != self.me \
                    and p not in self._releasing:
                release.append(p)
        for p, lease in view.leases.items():  # ours, unknown here: renewed, then pulled
            if lease.holder == self.me and p not in self._held:
                self._held[p] = renew[p] = lease.revision
        unheld = {p for p in range(self.partitions) if p not in self._held
                  and p not in view.leases}
        free = {p for p in unheld - self.home if view.homes.get(p, self.me) == self.me}
        settled = now - self._started >= self.lease_s
        claim = sorted((unheld & self.home) | (free & self._free_before if settled else set()))
        self._free_before = free
        return Plan(homes=sorted(self.home), claim=claim, renew=renew, release=release,
                    lost=lost)

    def claimed(self, partition: int, revision: int, sent: float) -> None:
        """A create or a renewal sent at ``sent`` succeeded with ``revision``."""
        self._held[partition] = revision
        self._until[partition] = sent + self.lease_s - self.guard_s

    def renewed(self, partition: int, revision: int, sent: float) -> None:
        """As :meth:`claimed`, unless the partition was dropped meanwhile (given up, or lost):
        a late reply must not bring back a partition another worker may be claiming."""
        if partition in self._held:
            self.claimed(partition, revision, sent)

    def lost(self, partition: int) -> None:
        """A renewal was refused: another worker holds the partition, or nobody does."""
        self._drop(partition)

    def releasing(self, partition: int) -> None:
        """Stop pulling (the batch in hand is finished first); renewed until released."""
        self._releasing.add(partition)

    def released(self, partition: int) -> None:
        self._drop(partition)

    def _drop(self, partition: int) -> None:
        self._held.pop(partition, None)
        self._until.pop(partition, None)
        self._releasing.discard(partition)


class FixedTake:
    """No leases, as before they existed: the home partitions, and no take-over. For a
    worker whose NATS user may not use the bucket (a users.conf written before it), until
    it may: then :meth:`stop`, and the leases take over."""

    def __init__(self, home: Iterable[int]) -> None:
        self.home = frozenset(home)
        self._stopped = False

    def may_pull(self, partition: int, now: float) -> bool:
        return partition in self.home and not self._stopped

    def stop(self) -> None:
        """Pull no more: a batch in hand is finished, one fetched after is given back."""
        self._stopped = True
