"""Several station workers writing one PostgreSQL database at once (a county): the same
hubs' lanes delivered to more than one worker, as a broker redelivers and a durable consumer
hands a lane over. Nothing is stored twice, no message is stored before the one before it in
its lane, claims race to exactly one winner, and the audit chain has no gap or fork."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable

from console.station.store.alarms import ClaimConflict
from console.station.store.db import Dsn
from console.station.store.ingest import OutOfOrder
from console.station.store.reader import StationReader
from console.station.store.station import StationStore
from hub.common import wire
from hub.common.events import CANCEL_KIND
from tests.support.postgres import StoreAt

HUBS = ("h001", "h002", "h003", "h004")
PER_HUB = 24  # messages in each hub's alarm lane; every 4th cancels the alarm before it
WRITERS = 4
COPIES = 2  # each message goes to this many workers


def lane(hub: str) -> list[wire.EventMsg]:
    out = []
    for n in range(1, PER_HUB + 1):
        seq = wire.Seq(epoch="e1", lane="alarm", n=n, prev=n - 1)
        if n % 4 == 0:  # the elder cancels the alarm just raised: an audit entry at ingest
            out.append(wire.EventMsg(hub=hub, id=f"{hub}-{n}", kind=CANCEL_KIND, source="b",
                                     ts=float(n), ref=f"{hub}-{n - 1}", seq=seq))
        else:
            out.append(wire.EventMsg(hub=hub, id=f"{hub}-{n}", kind="button.press", source="b",
                                     ts=float(n), seq=seq,
                                     alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101)))
    return out


def deal(rng: random.Random) -> list[dict[str, list[wire.EventMsg]]]:
    """Each worker's share: every message to COPIES workers, each lane's share in lane order
    (with gaps where another worker has the message)."""
    shares: list[dict[str, list[wire.EventMsg]]] = [{h: [] for h in HUBS} for _ in range(WRITERS)]
    for hub in HUBS:
        for msg in lane(hub):
            for w in rng.sample(range(WRITERS), COPIES):
                shares[w][hub].append(msg)
    return shares


def work(at: StoreAt, share: dict[str, list[wire.EventMsg]], rng: random.Random,
         stored: list[str], errors: list[BaseException]) -> None:
    """Store the share as a worker does: a few hubs' next messages per transaction; a message
    whose predecessor is not stored yet waits (the hub would send it again)."""
    s = StationStore(at.location)
    try:
        deadline = time.monotonic() + 60
        while any(share.values()) and time.monotonic() < deadline:
            hubs = rng.sample([h for h in HUBS if share[h]], k=min(rng.randint(1, 3),
                                                                   sum(1 for h in HUBS if share[h])))
            batch = [share[h][0] for h in hubs]
            results = s.store_events(batch)
            for msg, result in zip(batch, results, strict=True):
                if isinstance(result, OutOfOrder):
                    continue
                share[msg.hub].pop(0)
                if result:
                    stored.append(msg.id)
            if all(isinstance(r, OutOfOrder) for r in results):
                time.sleep(0.002)
    except BaseException as e:
        errors.append(e)
    finally:
        s.close()


def claim_all(at: StoreAt, who: str, won: list[tuple[str, str]], errors: list[BaseException],
              done: threading.Event) -> None:
    """An officer claiming every open alarm as it comes, racing another."""
    s = StationStore(at.location)
    try:
        while not done.is_set():
            for a in s.open_alarms():
                try:
                    s.claim(a.id, who, who)
                    won.append((a.id, who))
                except ClaimConflict:
                    pass
            time.sleep(0.005)
    except BaseException as e:
        errors.append(e)
    finally:
        s.close()


def test_workers_racing_on_the_same_lanes_store_each_message_once_in_lane_order(pg_at: StoreAt) -> None:
    rng = random.Random(20)
    stored: list[str] = []
    won: list[tuple[str, str]] = []
    errors: list[BaseException] = []
    done = threading.Event()
    writers = [threading.Thread(target=work, args=(pg_at, share, random.Random(i), stored, errors))
               for i, share in enumerate(deal(rng))]
    claimers = [threading.Thread(target=claim_all, args=(pg_at, who, won, errors, done))
                for who in ("zhang", "li")]
    for t in writers + claimers:
        t.start()
    for t in writers:
        t.join(90)
    done.set()
    for t in claimers:
        t.join(30)
    assert errors == []

    everything = [m.id for h in HUBS for m in lane(h)]
    assert sorted(stored) == sorted(everything)  # each stored by exactly one worker
    s = StationStore(pg_at.location)
    assert s.count("events") == len(everything)
    assert s.count("alarms") == len(HUBS) * PER_HUB * 3 // 4
    claimed = [a for h in HUBS for a in s.alarms_for_hub(h, open_only=False) if a.claimed_by]
    assert sorted(a.id for a in claimed) == sorted(a for a, _ in won)  # one winner each
    assert all((a.id, a.claimed_by) in won for a in claimed)
    # Lane order: each message's transaction committed no earlier than its predecessor's.
    rows = s._db.execute("SELECT hub, (payload::jsonb #>> '{seq,n}')::int, "
                         "pg_xact_commit_timestamp(xmin) FROM events ORDER BY hub, 2").fetchall()
    for (hub_a, n_a, at_a), (hub_b, n_b, at_b) in itertools.pairwise(rows):
        if hub_a == hub_b:
            assert n_b == n_a + 1 and at_b >= at_a, f"{hub_b} {n_b} was stored before {n_a}"
    assert [tuple(r) for r in s._db.execute("SELECT hub, last FROM lanes ORDER BY hub")] == [
        (h, PER_HUB) for h in HUBS]
    verdict = s.verify_audit()
    assert verdict.ok, verdict.reason
    cancels = len(HUBS) * PER_HUB // 4
    assert verdict.count == cancels + len(won)  # one entry per cancel and per claim: no gap
    s.close()


def test_the_audit_chain_stays_one_chain_with_writers_appending_at_once(pg_at: StoreAt) -> None:
    """Officers' steps on different alarms from different workers at the same instant: every
    entry lands, numbered without a gap, each following the one before."""
    first = StationStore(pg_at.location)
    ids = [f"a{i}" for i in range(40)]
    first.store_events([wire.EventMsg(hub="h001", id=i, kind="button.press", source="b", ts=1.0,
                                      alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101))
                        for i in ids])
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def officer(k: int) -> None:
        s = StationStore(pg_at.location)
        try:
            start.wait()
            for alarm in ids[k::4]:
                s.claim(alarm, f"u{k}", f"u{k}")
                s.note_alarm(alarm, f"u{k}", f"u{k}", "called the son")
        except BaseException as e:
            errors.append(e)
        finally:
            s.close()

    threads = [threading.Thread(target=officer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    verdict = first.verify_audit()
    assert verdict.ok, verdict.reason
    assert verdict.count == 2 * len(ids)
    first.close()


def behind_a_writer(at: StoreAt, held: str, round: Callable[[StationStore], list[str]]) -> list[str]:
    """Run a worker's periodic ``round`` while another worker's transaction, which ran
    ``held`` (uncommitted), holds the rows it updates; that one commits once the round waits
    for it. Returns what the round did."""
    import psycopg

    assert isinstance(at.location, Dsn)
    other = psycopg.connect(at.location.text, autocommit=True)
    s = StationStore(at.location)
    done: list[list[str]] = []
    try:
        other.execute("BEGIN")
        other.execute(held)  # type: ignore[arg-type]  # the test's own fixed SQL
        thread = threading.Thread(target=lambda: done.append(round(s)))
        thread.start()
        deadline = time.monotonic() + 20
        while not other.execute("SELECT count(*) FROM pg_stat_activity WHERE "
                                "wait_event_type = 'Lock'").fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the round never waited for the other worker"
            time.sleep(0.01)
        other.execute("COMMIT")
        thread.join(20)
    finally:
        other.close()
        s.close()
    return done[0]


def test_an_alarm_escalated_by_one_worker_is_not_escalated_again_by_another(pg_at: StoreAt) -> None:
    """Each worker runs the escalation round every second: two at once escalated (and
    notified) the same alarm twice, the second having read it unescalated before the first
    committed."""
    s = StationStore(pg_at.location)
    s.store_event(wire.EventMsg(hub="h001", id="a1", kind="button.press", source="b", ts=1.0,
                                alarm=wire.AlarmInfo(kind="panic", priority=1, contact_id=101)),
                  now=100.0)
    s.close()
    again = behind_a_writer(pg_at, "UPDATE alarms SET escalated = 170 WHERE id = 'a1'",
                            lambda w: w.escalate(cutoff=160.0, now=170.5))
    assert again == []


def test_a_home_heard_by_one_worker_is_not_marked_offline_by_another(pg_at: StoreAt) -> None:
    """A heartbeat stored by one worker while another's silence round marks the home
    offline: the round, which read it silent before the heartbeat committed, left it offline
    though it had just been heard."""
    s = StationStore(pg_at.location)
    s.heartbeat("h001", pending=0, now=100.0)
    s.close()
    gone = behind_a_writer(pg_at, "UPDATE homes SET last_heartbeat = 170 WHERE hub = 'h001'",
                           lambda w: w.mark_silent_offline(cutoff=160.0, now=170.5))
    assert gone == []
    reader = StationReader.open(pg_at.location)
    home = reader.home("h001")
    assert home is not None and home.online
    reader.close()
