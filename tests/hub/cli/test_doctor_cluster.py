"""The doctor's verdicts on a county station worker's NATS cluster, from what JetStream said
(the cluster itself: tests/system/test_nats_doctor.py)."""

from __future__ import annotations

import datetime

from nats.js.api import (
    ClusterInfo,
    ConsumerConfig,
    ConsumerInfo,
    PeerInfo,
    StreamConfig,
    StreamInfo,
    StreamState,
)

from console.station.leases import Lease, View
from hub.cli.doctor.cluster import leases, partitions, servers, stream
from hub.cli.doctor.report import Status


def info(leader: str | None, *peers: PeerInfo) -> StreamInfo:
    return StreamInfo(config=StreamConfig(name="ANXIN_IN", num_replicas=3),
                      state=StreamState(messages=4, bytes=0, first_seq=1, last_seq=4,
                                        consumer_count=2),
                      cluster=ClusterInfo(leader=leader, replicas=list(peers)))


def consumer(pending: int, unacked: int = 0, waiting: int = 0) -> ConsumerInfo:
    return ConsumerInfo(name="c", stream_name="ANXIN_IN", config=ConsumerConfig(),
                        created=datetime.datetime.now(datetime.UTC), num_pending=pending,
                        num_ack_pending=unacked, num_waiting=waiting)


def test_an_unreachable_server_fails_by_name_beside_the_reached() -> None:
    found = servers({"tls://a:4222": None, "tls://b:4222": "Connection refused"})
    assert [f.status for f in found] == [Status.OK, Status.FAIL]
    assert "tls://b:4222" in found[1].found and "tls://b" not in found[0].found


def test_the_stream_missing_or_leaderless_fails_and_a_lagging_copy_warns() -> None:
    missing = stream(None, None, 3)
    assert [f.status for f in missing] == [Status.FAIL] and "start a station worker" in missing[0].fix
    assert stream(info(None), None, 3)[0].status is Status.FAIL
    good = stream(info("n1", PeerInfo(name="n2", current=True), PeerInfo(name="n3", current=True)),
                  None, 3)
    assert [f.status for f in good] == [Status.OK] and "led by n1, 3 of 3 copies" in good[0].found
    lagging = stream(info("n1", PeerInfo(name="n2", current=True),
                          PeerInfo(name="n3", current=False, offline=True)), None, 3)
    assert [f.status for f in lagging] == [Status.OK, Status.WARN] and "n3" in lagging[1].found


def test_a_refused_api_call_warns() -> None:
    found = stream(None, "refused by the station's NATS permissions (x)", 3)
    assert [f.status for f in found] == [Status.WARN] and "refused" in found[0].found
    found = partitions([0, 1], {0: consumer(0)}, {1: "refused"}, backlog=100)
    assert [f.status for f in found] == [Status.OK, Status.WARN]


def test_a_partition_without_a_consumer_or_with_a_backlog_warns() -> None:
    found = partitions([0, 1, 2], {0: consumer(5, 2), 1: None, 2: consumer(500)}, {}, backlog=100)
    assert [f.status for f in found] == [Status.OK, Status.WARN, Status.WARN]
    assert "2 of 3 partitions consumed: 505 pending, 2 being handled" in found[0].found
    assert "partition(s) 1 " in found[1].found
    assert "partition 2 500 pending" in found[2].found
    assert [f.status for f in partitions([0], {0: consumer(100)}, {}, backlog=100)] == [Status.OK]


def test_the_leases_say_who_pulls_what_and_warn_of_a_partition_unheld_or_taken_over() -> None:
    homes = {0: "w1", 1: "w1", 2: "w2", 3: "w2"}
    found = leases(View({p: Lease(w, 1) for p, w in homes.items()}, homes), None, 4)
    assert [f.status for f in found] == [Status.OK]
    assert found[0].found == "4 of 4 partitions leased: w1 0,1; w2 2,3"
    # w1 dead: w2 has taken 0 over, 1 not yet
    found = leases(View({0: Lease("w2", 5), 2: Lease("w2", 1), 3: Lease("w2", 1)},
                        {2: "w2", 3: "w2"}), None, 4)
    assert [f.status for f in found] == [Status.OK, Status.WARN, Status.WARN]
    assert "3 of 4 partitions leased: w2 0,2,3" in found[0].found
    assert "partition(s) 1 held by no worker" in found[1].found
    assert "partition(s) 0 taken over" in found[2].found
    assert [f.status for f in leases(None, None, 4)] == [Status.FAIL]
    assert [f.status for f in leases(None, "no answer from JetStream", 4)] == [Status.WARN]


def test_a_partition_pulled_without_a_lease_or_by_two_workers_fails() -> None:
    """A worker whose NATS user is refused the bucket pulls its home partitions (0, 1)
    regardless; w2, with leases, has taken 1 over: the consumers show it (waiting fetches)."""
    view = View({1: Lease("w2", 5), 2: Lease("w2", 1), 3: Lease("w2", 1)}, {2: "w2", 3: "w2"})
    pulled = {0: consumer(0, waiting=1), 1: consumer(0, waiting=2), 2: consumer(0, waiting=1),
              3: None}
    found = leases(view, None, 4, pulled)
    assert [f.status for f in found] == [Status.OK, Status.FAIL, Status.WARN]
    assert "partition(s) 0 pulled by a worker that holds no lease" in found[1].found
    assert "partition(s) 1 pulled by more workers than its lease holder" in found[1].found
    assert "no worker that has them in its nats.take holds leases" in found[2].found
    # nobody pulls 0 (its worker stopped): only said to be free
    found = leases(view, None, 4, {**pulled, 0: consumer(0), 1: consumer(0, waiting=1)})
    assert [f.status for f in found] == [Status.OK, Status.WARN, Status.WARN]
    refused = "refused by the station's NATS permissions (permissions violation)"
    assert [f.status for f in leases(None, refused, 4)] == [Status.FAIL]
