"""A county station worker's NATS cluster (station.yaml's ``nats``; docs/county.md): each node
reached with the station's own TLS identity, the inbound stream led and its copies current,
this worker's partitions each with its durable consumer and no backlog, and which worker
holds each partition's lease (console/station/leases.py).

The connection, the stream's and the consumers' names are the worker's own
(console/station/jetstream.py), so the doctor sees what the worker would. The station's NATS
user may use the JetStream API for its stream only: a call it refuses is a WARN, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from console.station.config import StationConfig
from hub.cli.doctor.report import Finding, fail, ok, warn

if TYPE_CHECKING:
    from nats.js.api import ConsumerInfo, StreamInfo

    from console.station.leases import View

DOC = "docs/county.md, \"The station workers\""
CONNECT_S = 3.0  # per node
ASK_S = 5.0  # a JetStream API request
BACKLOG_BATCHES = 10  # a partition this many batches behind has a backlog


@dataclass
class Seen:
    """What the doctor's connections found; ``None`` for a stream or consumer that is not
    there, and the reason for one the doctor could not ask about."""

    reached: dict[str, str | None] = field(default_factory=dict)  # server: why not, or None
    stream: StreamInfo | None = None
    stream_unknown: str | None = None
    consumers: dict[int, ConsumerInfo | None] = field(default_factory=dict)
    consumers_unknown: dict[int, str] = field(default_factory=dict)
    leases: View | None = None
    leases_unknown: str | None = None


def nats(cfg: StationConfig) -> list[Finding]:
    assert cfg.nats is not None  # only for a worker with a nats section
    seen = asyncio.run(_look(cfg))
    found = servers(seen.reached)
    if not any(why is None for why in seen.reached.values()):
        return found
    return [*found, *stream(seen.stream, seen.stream_unknown, cfg.nats.replicas),
            *partitions(cfg.nats.taken, {p: seen.consumers[p] for p in cfg.nats.taken
                                         if p in seen.consumers},
                        {p: why for p, why in seen.consumers_unknown.items()
                         if p in cfg.nats.taken}, backlog=BACKLOG_BATCHES * cfg.nats.batch),
            *leases(seen.leases, seen.leases_unknown, cfg.nats.partitions, seen.consumers)]


async def _look(cfg: StationConfig) -> Seen:
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import BucketNotFoundError, NotFoundError

    from console.station.jetstream import (
        LEASES,
        STREAM,
        connect,
        consumer_name,
        read_view,
        server_urls,
    )

    assert cfg.nats is not None
    seen, refused = Seen(), []

    async def on_error(e: Exception) -> None:  # a permissions violation comes here, not raised
        if "permission" in str(e).lower():
            refused.append(str(e).strip())

    def why(e: BaseException) -> str:
        if refused:
            return f"refused by the station's NATS permissions ({refused[-1]})"
        if isinstance(e, (NatsTimeout, NoRespondersError, TimeoutError)):
            return "no answer from JetStream (the station's NATS permissions, or no JetStream)"
        return str(e) or type(e).__name__

    conns = []
    for url in server_urls(cfg.broker, cfg.nats):
        try:
            # nats-py tries a server without end unless it is given a number of attempts
            conns.append(await asyncio.wait_for(connect(
                [url], cfg.broker, f"anxin-doctor-{os.getpid()}", connect_timeout=CONNECT_S,
                allow_reconnect=False, max_reconnect_attempts=1, error_cb=on_error),
                CONNECT_S * 2))
            seen.reached[url] = None
        except Exception as e:
            seen.reached[url] = str(e) or type(e).__name__
    try:
        if not conns:
            return seen
        js = conns[0].jetstream(timeout=ASK_S)
        try:
            seen.stream = await js.stream_info(STREAM)
        except NotFoundError:
            pass
        except Exception as e:
            seen.stream_unknown = why(e)
        if seen.stream is None:
            return seen
        for p in range(cfg.nats.partitions):  # every one: who pulls it, against the leases
            try:
                seen.consumers[p] = await js.consumer_info(STREAM, consumer_name(p))
            except NotFoundError:
                seen.consumers[p] = None
            except Exception as e:
                seen.consumers_unknown[p] = why(e)
        try:
            seen.leases = await read_view(await js.key_value(LEASES), cfg.nats.partitions)
        except BucketNotFoundError:
            pass
        except Exception as e:
            seen.leases_unknown = why(e)
        return seen
    finally:
        for c in conns:
            with contextlib.suppress(TimeoutError):  # the doctor is done with it either way
                await asyncio.wait_for(c.close(), CONNECT_S)


def servers(reached: dict[str, str | None]) -> list[Finding]:
    """Each of ``nats.servers``, connected to on its own."""
    down = {url: e for url, e in reached.items() if e is not None}
    found = [fail("nats", f"{url}: cannot connect ({e})",
                  "check that nats-server runs on that node and listens there, the firewall, "
                  "and broker.tls (the station's certificate is its NATS user)")
             for url, e in down.items()]
    up = [url for url in reached if url not in down]
    if up:
        found.insert(0, ok("nats", f"{', '.join(up)} reached as the station"))
    return found


def stream(info: StreamInfo | None, unknown: str | None, replicas: int) -> list[Finding]:
    """The worker's inbound stream: there, led, and each copy current."""
    from console.station.jetstream import STREAM

    if unknown is not None:
        return [warn("stream", f"{STREAM}: cannot tell: {unknown}",
                     f"check the station's NATS user ({DOC}); `anxin broker-config --engine "
                     "nats` writes its permissions")]
    if info is None:
        return [fail("stream", f"{STREAM} is missing: nothing keeps the hubs' events for the "
                     "station", "start a station worker: it makes the stream")]
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return [fail("stream", f"{STREAM} has no leader: the hubs' events are not stored",
                     "start the cluster's stopped nodes (a majority of the stream's copies "
                     "must run)")]
    peers = cluster.replicas or []
    behind = [p.name or "?" for p in peers if p.offline or not p.current]
    copies = f"{len(peers) + 1} of {info.config.num_replicas or replicas} copies"
    state = info.state
    held = f"{state.messages} message(s) held" if state else ""
    found = [ok("stream", f"{STREAM}: led by {cluster.leader}, {copies}; {held}")]
    if behind:
        found.append(warn("stream", f"{STREAM}: the copy on {', '.join(behind)} is offline or "
                          "not current: one more node lost and the stream stops",
                          "start that node, or see its log (nats.log)"))
    return found


def partitions(taken: list[int], consumers: dict[int, ConsumerInfo | None],
               unknown: dict[int, str], backlog: int) -> list[Finding]:
    """This worker's partitions: each consumer there, and what waits in it."""
    from console.station.jetstream import ranges

    found = []
    if unknown:
        first = next(iter(unknown.values()))
        found.append(warn("partitions", f"cannot tell the consumer of partition(s) "
                          f"{ranges(sorted(unknown))}: {first}",
                          f"check the station's NATS user ({DOC})"))
    missing = [p for p in taken if p in consumers and consumers[p] is None]
    if missing:
        found.append(warn("partitions", f"partition(s) {ranges(missing)} of this worker have no "
                          "consumer: their hubs' events wait in the stream",
                          "start this worker (it makes its consumers), or see its log"))
    there = {p: c for p, c in consumers.items() if c is not None}
    pending = {p: c.num_pending or 0 for p, c in there.items()}
    unacked = {p: c.num_ack_pending or 0 for p, c in there.items()}
    late = [p for p in there if pending[p] > backlog]
    if late:
        found.append(warn("partitions", "a backlog: " + ", ".join(
                          f"partition {p} {pending[p]} pending" for p in late),
                          "see the worker's log (is it committing?), or give the partitions "
                          f"to more workers (nats.take; {DOC})"))
    if there:
        most = max(there, key=lambda p: pending[p] + unacked[p])
        found.insert(0, ok("partitions", f"{len(there)} of {len(taken)} partitions consumed: "
                           f"{sum(pending.values())} pending, {sum(unacked.values())} being "
                           f"handled (most: partition {most}, {pending[most]} pending, "
                           f"{unacked[most]} being handled)"))
    return found



def leases(view: View | None, unknown: str | None, count: int,
           consumers: Mapping[int, ConsumerInfo | None] | None = None) -> list[Finding]:
    """Who pulls each partition now; a partition nobody holds, or one held for a home worker
    that writes no home key, is said. One that the consumers show pulled (a fetch waiting)
    without a lease, or by more workers than its lease holder, FAILs: a worker whose NATS user
    is refused the bucket pulls its home partitions regardless, and a worker with leases takes
    them over, so both pull them (docs/county.md)."""
    from console.station.jetstream import LEASES, ranges

    if unknown is not None and unknown.startswith("refused"):  # the workers are refused too
        return [fail("leases", f"{LEASES}: {unknown}: this worker pulls its home partitions "
                     "without leases, and a worker with leases may take them over: both pull "
                     "them", f"write users.conf again and reload the nodes ({DOC})")]
    if unknown is not None:
        return [warn("leases", f"{LEASES}: cannot tell: {unknown}",
                     f"check the station's NATS user ({DOC})")]
    if view is None:
        return [fail("leases", f"bucket {LEASES} is missing: no worker holds a partition by "
                     "lease", "start a station worker: it makes the bucket (a worker whose NATS "
                     "user is refused it pulls without leases: write users.conf again)")]
    waiting = {p: c.num_waiting or 0 for p, c in (consumers or {}).items() if c is not None}
    by: dict[str, list[int]] = {}
    for p, lease in sorted(view.leases.items()):
        by.setdefault(lease.holder, []).append(p)
    found = []
    if by:
        found.append(ok("leases", f"{len(view.leases)} of {count} partitions leased: " + "; ".join(
            f"{who} {ranges(ps)}" for who, ps in sorted(by.items()))))
    free = [p for p in range(count) if p not in view.leases]
    unleased = [p for p in free if waiting.get(p, 0) > 0]
    twice = [p for p in view.leases if waiting.get(p, 0) > 1]
    if unleased or twice:
        found.append(fail("leases", "; ".join(
            [*([f"partition(s) {ranges(unleased)} pulled by a worker that holds no lease"]
               if unleased else []),
             *([f"partition(s) {ranges(twice)} pulled by more workers than its lease holder"]
               if twice else [])]) + ": a worker whose NATS user is refused the bucket, pulling "
            "its home partitions regardless", "write users.conf again and reload the nodes "
            f"(its log says \"NATS refused bucket {LEASES}\"; {DOC})"))
    idle = [p for p in free if p not in unleased]
    if idle:
        found.append(warn("leases", f"partition(s) {ranges(idle)} held by no worker: their "
                          "hubs' events wait in the stream", "start a station worker; a "
                          "running one takes a free partition within nats.lease_s"))
    away = [p for p, lease in sorted(view.leases.items()) if view.homes.get(p) != lease.holder]
    if away:
        found.append(warn("leases", f"partition(s) {ranges(away)} taken over: no worker that "
                          "has them in its nats.take holds leases (stopped, or refused the "
                          "bucket)", "start it: it takes them back (or give them to a worker's "
                          "nats.take)"))
    return found
