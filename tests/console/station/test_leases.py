"""A station worker's lease decisions (console/station/leases.py), on a fake clock and a
bucket kept in a dict with the server's rules: a create is refused if the key exists, a
renewal if the revision moved, and every key lapses ``lease_s`` after its last write (the
cluster itself: tests/system/test_nats_leases.py)."""

from __future__ import annotations

from console.station.leases import FixedTake, Lease, Leases, View, home_key, lease_key

LEASE_S, GUARD_S, PARTITIONS = 8.0, 2.0, 4


class Bucket:
    """The lease bucket as the server keeps it, on the test's clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.keys: dict[str, tuple[str, int, float]] = {}  # key: value, revision, written
        self.revision = 0

    def _live(self, key: str) -> tuple[str, int, float] | None:
        entry = self.keys.get(key)
        if entry is not None and self.now >= entry[2] + LEASE_S:
            del self.keys[key]
            return None
        return entry

    def _write(self, key: str, value: str) -> int:
        self.revision += 1
        self.keys[key] = (value, self.revision, self.now)
        return self.revision

    def view(self) -> View:
        leases, homes = {}, {}
        for p in range(PARTITIONS):
            if (lease := self._live(lease_key(p))) is not None:
                leases[p] = Lease(lease[0], lease[1])
            if (home := self._live(home_key(p))) is not None:
                homes[p] = home[0]
        return View(leases, homes)

    def round(self, w: Leases) -> None:
        """What the adapter does with a plan: the writes, their outcomes told back."""
        plan = w.plan(self.view(), self.now)
        for p in plan.homes:
            self._write(home_key(p), w.me)
        for p, rev in plan.renew.items():
            live = self._live(lease_key(p))
            if live is None or live[1] != rev:
                w.lost(p)
            else:
                w.renewed(p, self._write(lease_key(p), w.me), self.now)
        for p in plan.claim:
            if self._live(lease_key(p)) is None:
                w.claimed(p, self._write(lease_key(p), w.me), self.now)
        for p in plan.release:  # the batch in hand finished at once
            w.releasing(p)
            del self.keys[lease_key(p)]
            w.released(p)

    def holders(self) -> dict[int, str]:
        return {p: lease.holder for p, lease in self.view().leases.items()}


def worker(name: str, home: list[int], now: float) -> Leases:
    return Leases(name, home, partitions=PARTITIONS, lease_s=LEASE_S, guard_s=GUARD_S, now=now)


def run(bucket: Bucket, workers: list[Leases], until: float) -> None:
    """Every worker's rounds, each every_s, up to ``until``."""
    step = LEASE_S / 4
    while bucket.now < until:
        for w in workers:
            bucket.round(w)
        bucket.now += step


def test_each_worker_claims_its_home_partitions_and_waits_a_lease_for_the_rest() -> None:
    b = Bucket()
    w1 = worker("w1", [0, 1], 0.0)
    run(b, [w1], 6.0)  # alone, not yet a lease long: its own only
    assert b.holders() == {0: "w1", 1: "w1"} and w1.held == [0, 1]
    w2 = worker("w2", [2, 3], b.now)
    run(b, [w1, w2], 40.0)  # started within w1's first lease: each keeps to its own
    assert b.holders() == {0: "w1", 1: "w1", 2: "w2", 3: "w2"}
    assert [w1.may_pull(p, b.now) for p in range(4)] == [True, True, False, False]
    assert w2.may_pull(3, b.now)


def test_a_dead_workers_partitions_are_taken_over_once_its_keys_lapse() -> None:
    b = Bucket()
    w1, w2 = worker("w1", [0, 1], 0.0), worker("w2", [2, 3], 0.0)
    run(b, [w1, w2], 20.0)
    died = b.now - LEASE_S / 4  # its last round
    run(b, [w2], died + LEASE_S - LEASE_S / 4)  # w1 silent: its leases still stand
    assert b.holders()[0] == "w1" and w2.held == [2, 3]
    run(b, [w2], died + LEASE_S + LEASE_S / 4 + 0.1)  # lapsed, and w2's next round claims
    assert b.holders() == {0: "w2", 1: "w2", 2: "w2", 3: "w2"}
    assert all(w2.may_pull(p, b.now) for p in range(4))


def test_a_partition_goes_home_when_its_worker_is_back_and_never_to_two() -> None:
    b = Bucket()
    w1, w2 = worker("w1", [0, 1], 0.0), worker("w2", [2, 3], 0.0)
    run(b, [w1, w2], 20.0)
    run(b, [w2], 40.0)
    assert w2.held == [0, 1, 2, 3]
    back = worker("w1", [0, 1], b.now)
    pulling: list[set[int]] = []
    while b.now < 60.0:
        run(b, [back, w2], b.now + 0.1)
        now = b.now
        pulling.append({p for p in range(4) if back.may_pull(p, now)}
                       & {p for p in range(4) if w2.may_pull(p, now)})
    assert b.holders() == {0: "w1", 1: "w1", 2: "w2", 3: "w2"}
    assert back.held == [0, 1] and w2.held == [2, 3]
    assert not any(pulling), "a partition pulled by both"


def test_a_worker_stops_pulling_before_its_lease_can_lapse_and_on_a_lost_renewal() -> None:
    w = worker("w1", [0, 1], 0.0)
    w.claimed(0, 5, sent=10.0)
    w.claimed(1, 6, sent=10.0)
    assert w.may_pull(0, 10.0 + LEASE_S - GUARD_S - 0.01)
    assert not w.may_pull(0, 10.0 + LEASE_S - GUARD_S)  # renewals failing: stops by itself
    w.lost(1)
    assert not w.may_pull(1, 10.1) and w.held == [0]
    # the view says another holds 0 (our lease lapsed meanwhile): lost at once, not renewed
    plan = w.plan(View({0: Lease("w2", 9)}, {0: "w1", 2: "w3", 3: "w3"}), 11.0)
    assert plan.lost == [0] and plan.renew == {} and not w.may_pull(0, 11.0)
    assert plan.claim == [1]  # its home, free: claimed again


def test_a_renewal_that_landed_unseen_is_adopted_from_the_view() -> None:
    """The update timed out here but the server stored it: the key holds our name at a
    newer revision; the next renewal compares against that one."""
    w = worker("w1", [0], 0.0)
    w.claimed(0, 5, sent=1.0)
    plan = w.plan(View({0: Lease("w1", 7)}, {0: "w1"}), 2.0)
    assert plan.renew == {0: 7} and plan.lost == [] and plan.claim == []


def test_a_held_partition_is_released_only_to_its_live_home_worker() -> None:
    w = worker("w2", [2], 0.0)
    w.claimed(0, 3, sent=20.0)
    plan = w.plan(View({0: Lease("w2", 3)}, {}), 21.0)  # w1 still dead: keep it
    assert plan.release == [] and plan.renew == {0: 3}
    plan = w.plan(View({0: Lease("w2", 3)}, {0: "w1"}), 22.0)
    assert plan.release == [0] and plan.renew == {0: 3}  # renewed until the batch is done
    w.releasing(0)
    assert not w.may_pull(0, 22.0)
    assert w.plan(View({0: Lease("w2", 3)}, {0: "w1"}), 22.5).release == []  # asked once
    w.released(0)
    assert w.held == []
    # nor claimed back while its home worker is alive, even once free
    assert w.plan(View({}, {0: "w1"}), 30.0).claim == [1, 2, 3]


def test_after_an_outage_that_lapsed_every_key_each_worker_takes_back_only_its_own() -> None:
    """The cluster back after longer than a lease: every key has lapsed, both workers find
    all partitions free at once. Each gets its own again; w2, whose round comes first, never
    takes w1's (which, claimed at its first sight, would go to and fro)."""
    b = Bucket()
    w1, w2 = worker("w1", [0, 1], 0.0), worker("w2", [2, 3], 0.0)
    run(b, [w2, w1], 20.0)
    b.keys.clear()
    b.now += LEASE_S
    w2_had: set[int] = set()
    while b.now < 40.0:
        run(b, [w2, w1], b.now + 0.1)
        w2_had |= set(w2.held)
    assert b.holders() == {0: "w1", 1: "w1", 2: "w2", 3: "w2"}
    assert w2_had == {2, 3}


def test_a_renewal_answered_after_the_partition_was_given_up_does_not_bring_it_back() -> None:
    """The update's reply comes after the release deleted the key and dropped the partition
    (its home worker is claiming it): the partition stays dropped."""
    w = worker("w2", [2], 0.0)
    w.claimed(0, 3, sent=20.0)
    plan = w.plan(View({0: Lease("w2", 3)}, {0: "w1"}), 21.0)
    assert plan.release == [0] and plan.renew == {0: 3}
    w.releasing(0)
    w.released(0)
    w.renewed(0, 4, sent=21.0)  # the renewal sent with the plan, answered late
    assert w.held == [] and not w.may_pull(0, 21.5)
    w.claimed(2, 5, sent=21.0)
    w.lost(2)  # refused: the same for a late reply to an earlier renewal
    w.renewed(2, 6, sent=21.0)
    assert w.held == [] and not w.may_pull(2, 21.5)


def test_a_lease_that_names_this_worker_unknown_to_it_is_adopted_not_left_to_lapse() -> None:
    """Restarted within a lease of a kill -9 (or a create whose reply was lost): the bucket
    still names it for its partitions. It renews them on the revision seen and pulls at once."""
    b = Bucket()
    w1 = worker("w1", [0, 1], 0.0)
    w2 = worker("w2", [2, 3], 0.0)
    run(b, [w1, w2], 10.0)
    again = worker("w1", [0, 1], b.now)
    assert again.held == [] and not again.may_pull(0, b.now)
    b.round(again)
    assert again.held == [0, 1] and all(again.may_pull(p, b.now) for p in (0, 1))
    assert b.holders() == {0: "w1", 1: "w1", 2: "w2", 3: "w2"}
    # a key naming it whose renewal is refused (taken meanwhile) is not pulled
    w = worker("w1", [0], 0.0)
    plan = w.plan(View({3: Lease("w1", 9)}, {}), 1.0)
    assert plan.renew == {3: 9} and not w.may_pull(3, 1.0)
    w.lost(3)
    assert w.held == []


def test_a_worker_without_leases_pulls_its_home_partitions_until_stopped() -> None:
    fixed = FixedTake([0, 1])
    assert [fixed.may_pull(p, 0.0) for p in range(3)] == [True, True, False]
    fixed.stop()  # the bucket allowed now: the leases take over
    assert not fixed.may_pull(0, 1.0)
