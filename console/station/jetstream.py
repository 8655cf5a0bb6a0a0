"""The station's inbound path on a county's NATS cluster: JetStream instead of subscriptions.

Hubs and consoles still speak MQTT to the nodes' gateway, which publishes each message on
the NATS subject of its topic (``anxin/v1/hub/h001/event`` is ``anxin.v1.hub.h001.event``).
A stream the station makes (:data:`STREAM`, idempotently, ``replicas`` copies) keeps what
the station must hear: hub events, heartbeats and statuses, and console requests. As it stores
a message, its subject transform puts the hub id's partition in front
(``anxin.in.<p>.hub.h001.event``; all console requests fall in the partition of the word
``request``), so each partition is one durable pull consumer and one hub's messages are always
in the same one, in the order the gateway took them. A worker consumes the partitions it holds
a lease on (console/station/leases.py: its home ones, ``nats.take``, and those of a dead
worker), one batch at a time each, and acknowledges a batch to JetStream only after the
station has committed it; the stream is a work queue, so an acknowledged message is gone and
the disk holds only the backlog.

Everything else stays MQTT (:class:`~hub.common.transport.PahoTransport` on ``broker``): the
replies (acks to hubs at QoS 1, alarm updates, call control, console replies), the station's
retained status and its will, its own status, and the calls' voice. Why this shape, and how
partitions move between workers, is in docs/county.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import (
    APIError,
    BadRequestError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from console.station.config import LEASE_GUARD_S, NatsInbound
from console.station.leases import (
    RENEWALS,
    FixedTake,
    Lease,
    Leases,
    Plan,
    View,
    home_key,
    lease_key,
)
from console.station.trust.natsconf import (
    STATION_INBOX,
    STATION_LEASES,
    STATION_STREAM,
    subject,
)
from hub.common import wire
from hub.common.transport import (
    BrokerConfig,
    OnConnection,
    OnMessage,
    PahoTransport,
    Will,
    split_endpoint,
)

log = logging.getLogger(__name__)

STREAM = STATION_STREAM
PREFIX = "anxin.in"  # + .<partition>.<hub|station>.<id|request>.<leaf>
# The station's subscriptions the stream replaces, and their subjects.
CONSUMED = {f: subject(f) for f in (wire.hub_wildcard("event"), wire.hub_wildcard("heartbeat"),
                                    wire.hub_wildcard("status"), wire.STATION_REQUESTS)}
TRANSFORM_SRC = "anxin.v1.*.*.*"
NATS_PORT = 4222
FETCH_S = 1.0  # a fetch waits this long for a first message
CLOSE_S = 5.0  # closing waits this long for the consumers and the connection
RETRY_S = 1.0  # after a failed fetch (a node lost, the consumer's leader moving)
MAX_AGE_S = 7 * 24 * 3600.0  # kept at most this long unconsumed; hubs send again anyway
LEASES = STATION_LEASES  # the key-value bucket of the partitions' leases
assert FETCH_S < LEASE_GUARD_S  # a fetch in flight ends before a lease can lapse
WRONG_LAST = (10071, 10164)  # JetStream's "wrong last sequence": a compare-and-set refused


class StreamMismatch(Exception):
    """The stream exists, split into another number of partitions than this worker's."""


def consumer_name(partition: int) -> str:
    return f"anxin-in-{partition}"


def topic_of(subject: str) -> str:
    """The MQTT topic of a stored subject: ``anxin.in.3.hub.h001.event`` is
    ``anxin/v1/hub/h001/event``. Levels never hold a '.': ids and leaves are checked."""
    parts = subject.split(".")
    return "/".join(["anxin", "v1", *parts[3:]])


def stream_config(cfg: NatsInbound) -> StreamConfig:
    dest = f"{PREFIX}.{{{{partition({cfg.partitions},2)}}}}" \
        ".{{wildcard(1)}}.{{wildcard(2)}}.{{wildcard(3)}}"
    return StreamConfig(
        name=STREAM, subjects=list(CONSUMED.values()), retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE, num_replicas=cfg.replicas, max_age=MAX_AGE_S,
        subject_transform=SubjectTransform(src=TRANSFORM_SRC, dest=dest),
        description="Anxin: what the station workers hear, split by hub (docs/county.md)")


def tls_context(broker: BrokerConfig) -> ssl.SSLContext | None:
    """The station's certificate and CA, as on the MQTT side: the node maps its subject
    (CN=station:<id>) to the station's user."""
    if broker.tls is None:
        return None
    ctx = ssl.create_default_context(cafile=str(broker.tls.ca))
    ctx.load_cert_chain(str(broker.tls.cert), str(broker.tls.key))
    return ctx


def server_urls(broker: BrokerConfig, cfg: NatsInbound) -> list[str]:
    """``nats.servers`` as URLs: TLS when the broker has it, port 4222 when none is given."""
    return [f"{'tls' if broker.tls else 'nats'}://{h}:{p}"
            for h, p in (split_endpoint(s, NATS_PORT) for s in cfg.servers)]


async def connect(servers: list[str], broker: BrokerConfig, name: str, **options: Any) -> Client:
    """A connection as the station's worker: its TLS identity, and the inbox its NATS user
    may hear replies on (anything else is refused)."""
    return await nats.connect(servers, tls=tls_context(broker), name=name,
                              inbox_prefix=STATION_INBOX, **options)


def bucket_config(cfg: NatsInbound) -> KeyValueConfig:
    """The leases' bucket: one value a key, each lapsing ``lease_s`` after it was written."""
    return KeyValueConfig(bucket=LEASES, history=1, ttl=cfg.lease_s, replicas=cfg.replicas,
                          storage=StorageType.FILE, direct=False,
                          description="Anxin: which station worker pulls each partition "
                          "(docs/county.md)")


async def lease_bucket(js: JetStreamContext, cfg: NatsInbound) -> tuple[KeyValue, float]:
    """The bucket, made or found, and its TTL: the first worker's ``lease_s`` is everyone's
    (a lease is the server's to end)."""
    try:
        kv = await js.create_key_value(bucket_config(cfg))
    except BadRequestError as e:  # made by a worker with another lease_s
        log.warning("bucket %s exists with another configuration (%s); using it", LEASES,
                    e.description)
        kv = await js.key_value(LEASES)
    ttl = (await kv.status()).ttl or cfg.lease_s
    if ttl != cfg.lease_s:
        log.warning("leases last %g s, as bucket %s was made, not nats.lease_s %g s", ttl,
                    LEASES, cfg.lease_s)
    return kv, ttl


async def read_view(kv: KeyValue, partitions: int) -> View:
    """Each partition's lease and home key, read from the bucket's leader."""
    async def value(key: str) -> tuple[str, int] | None:
        try:
            e = await kv.get(key)
        except KeyNotFoundError:  # never written, lapsed, or deleted
            return None
        return (e.value or b"").decode(errors="replace"), e.revision or 0

    keys = [k for p in range(partitions) for k in (lease_key(p), home_key(p))]
    found = dict(zip(keys, await asyncio.gather(*map(value, keys)), strict=True))
    leases = {p: Lease(*v) for p in range(partitions) if (v := found[lease_key(p)])}
    homes = {p: v[0] for p in range(partitions) if (v := found[home_key(p)])}
    return View(leases, homes)


class JetStreamTransport:
    """The station's transport on a NATS cluster: MQTT for everything but what :data:`CONSUMED`
    names, which comes from JetStream. Implements Transport and Settling."""

    def __init__(self, *, broker: BrokerConfig, nats: NatsInbound, client_id: str,
                 loop: asyncio.AbstractEventLoop, will: Will | None = None) -> None:
        self._loop, self._cfg, self._broker, self._name = loop, nats, broker, client_id
        self._mqtt = PahoTransport(broker=broker, client_id=client_id, loop=loop, will=will)
        self._on_message: OnMessage = lambda t, p: None
        self._on_connection: OnConnection = lambda up: None
        self._stored: Callable[[], bool] = lambda: True
        self._nc: Client | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pulling: dict[int, asyncio.Task[None]] = {}  # partition: its consumer
        self.leases: Leases | None = None  # once the bucket is found
        self._kv: KeyValue | None = None
        self._refused: str | None = None  # the permissions violation met on the bucket
        self._mqtt_started = False
        self._closing = False  # a consumer stops at its next turn even if a fetch ate the cancel
        self.handed = 0  # messages handed to the station (tests look)

    @property
    def connected(self) -> bool:
        return self._mqtt.connected

    def settle_when(self, stored: Callable[[], bool]) -> None:
        self._stored = stored

    def subscribe(self, topic: str, qos: int = 1) -> None:
        if topic not in CONSUMED:
            self._mqtt.subscribe(topic, qos)

    def unsubscribe(self, topic: str) -> None:
        if topic not in CONSUMED:
            self._mqtt.unsubscribe(topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self._mqtt.publish(topic, payload, qos=qos, retain=retain)

    def start(self, on_message: OnMessage, on_connection: OnConnection) -> None:
        """MQTT starts once this worker consumes (:meth:`_online`): the station says it is
        online only when what hubs send from then on is kept and pulled (a hub that sees it
        online sends at once, and no longer by SMS)."""
        self._on_message, self._on_connection = on_message, on_connection
        self._tasks.append(self._loop.create_task(self._run(), name="jetstream"))

    def close(self) -> None:
        """Stop consuming (what was fetched and not acknowledged goes again, to whoever
        takes the partition next) and close MQTT; :meth:`aclose` also waits for NATS and
        gives the leases up."""
        self._closing = True
        for t in [*self._tasks, *self._pulling.values()]:
            t.cancel()
        self._mqtt.close()

    async def aclose(self) -> None:
        self._closing = True
        tasks = [*self._tasks, *self._pulling.values()]
        for t in tasks:
            t.cancel()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=CLOSE_S)
            if late:
                log.warning("NATS: %s did not stop", ", ".join(t.get_name() for t in late))
        if self._kv is not None and self.leases is not None:
            try:
                await asyncio.wait_for(asyncio.gather(*(
                    self._give_up(self._kv, self.leases, p) for p in self.leases.held)), CLOSE_S)
            except TimeoutError:
                log.warning("NATS: leases not given up within %g s: they lapse", CLOSE_S)
        self._mqtt.close()
        if self._nc is not None and not self._nc.is_closed:
            try:
                await asyncio.wait_for(self._nc.close(), CLOSE_S)
            except TimeoutError:
                log.warning("NATS: the connection did not close within %g s", CLOSE_S)

    async def _run(self) -> None:
        servers = server_urls(self._broker, self._cfg)
        while self._nc is None:
            try:
                self._nc = await connect(
                    servers, self._broker, self._name, max_reconnect_attempts=-1, reconnect_time_wait=1,
                    connect_timeout=5, allow_reconnect=True,
                    error_cb=self._nats_error, disconnected_cb=self._nats_down,
                    reconnected_cb=self._nats_back)
            except Exception as e:  # no node answers yet: keep trying, as paho does
                log.warning("NATS %s: cannot connect (%s); trying again", servers, e)
                await asyncio.sleep(RETRY_S * 2)
        js = self._nc.jetstream()
        try:
            await self._ensure_stream(js)
        except StreamMismatch as e:
            log.error("%s; this worker consumes nothing and stays offline", e)
            return
        fixed: FixedTake | None = None
        while self._kv is None:
            try:
                self._kv, lease_s = await lease_bucket(js, self._cfg)
            except Exception as e:
                if self._refused and fixed is None:  # a users.conf to write again
                    fixed = self._without_leases(js)
                elif fixed is None:
                    log.warning("making bucket %s: %s; trying again", LEASES, e)
                await asyncio.sleep(RETRY_S if fixed is None else self._cfg.lease_s / RENEWALS)
        if fixed is not None:
            await self._end_fixed(fixed)
        self.leases = Leases(self._cfg.worker, self._cfg.taken, partitions=self._cfg.partitions,
                             lease_s=lease_s, guard_s=LEASE_GUARD_S, now=time.monotonic())
        log.info("consuming %s: home partitions %s of %d, and a dead worker's after %g s",
                 STREAM, ranges(self._cfg.taken), self._cfg.partitions, lease_s)
        await self._hold(js, self._kv, self.leases)

    def _online(self) -> None:
        """MQTT starts once this worker consumes: hubs that see the station online skip their
        SMS fallback, and what they send from then on is kept and pulled."""
        if not self._mqtt_started:
            self._mqtt_started = True
            self._mqtt.start(self._on_message, self._on_connection)

    def _without_leases(self, js: JetStreamContext) -> FixedTake:
        """Consume the home partitions as workers did before the leases: better than
        nothing while users.conf is not updated. A worker with leases sees them free and may
        take them over, so both pull them (nothing lost: the store de-duplicates) until the
        bucket is allowed: it is asked for again every lease round."""
        log.error("NATS refused bucket %s (%s): users.conf was written before the leases; "
                  "write it again and reload the nodes (docs/county.md). Meanwhile this worker "
                  "consumes its home partitions %s without leases (a worker with leases may "
                  "pull them too)", LEASES, self._refused, ranges(self._cfg.taken))
        fixed = FixedTake(self._cfg.taken)
        for p in self._cfg.taken:
            self._pulling[p] = self._loop.create_task(self._consume(js, p, fixed),
                                                      name=f"partition {p}")
        self._online()
        return fixed

    async def _end_fixed(self, fixed: FixedTake) -> None:
        """The bucket is allowed now: the fixed pulls stop after their batch in hand, then
        the leases claim the home partitions (or take them back from a worker holding them)."""
        fixed.stop()
        running = [t for p, t in self._pulling.items() if p in fixed.home]
        if running:
            await asyncio.wait(running)
        log.info("NATS: bucket %s allowed now; this worker takes its partitions by lease",
                 LEASES)

    async def _hold(self, js: JetStreamContext, kv: KeyValue, leases: Leases) -> None:
        """Each round: read the bucket, write what the leases decide, start a consumer for
        each partition claimed (one stops by itself when its lease ends: ``may_pull``)."""
        while not self._closing:
            began = time.monotonic()
            try:
                view = await read_view(kv, leases.partitions)
                await self._apply(js, kv, leases, leases.plan(view, time.monotonic()))
                self._online()  # the first round done: the partitions claimed are pulled
            except Exception as e:  # the leases end by themselves if this goes on
                log.warning("leases: %s: %s; trying again", LEASES, e or type(e).__name__)
            await asyncio.sleep(max(0.0, leases.every_s - (time.monotonic() - began)))

    async def _apply(self, js: JetStreamContext, kv: KeyValue, leases: Leases,
                     plan: Plan) -> None:
        me = self._cfg.worker.encode()
        for p in plan.lost:
            log.warning("partition %d: its lease is another's or lapsed; stopped pulling it", p)
        sent = time.monotonic()

        async def home(p: int) -> None:
            await kv.put(home_key(p), me)

        async def renew(p: int, revision: int) -> None:
            try:
                leases.renewed(p, await kv.update(lease_key(p), me, last=revision), sent)
            except KeyWrongLastSequenceError:
                leases.lost(p)
                log.warning("partition %d: its lease was taken; stopped pulling it", p)

        async def claim(p: int) -> None:
            try:
                leases.claimed(p, await kv.create(lease_key(p), me), sent)
            except KeyWrongLastSequenceError:  # another worker was first
                return
            log.info("partition %d: %s", p, "pulling" if p in leases.home
                     else "taken over (its home worker's lease lapsed)")

        results = await asyncio.gather(*map(home, plan.homes),
                                       *(renew(p, r) for p, r in plan.renew.items()),
                                       *map(claim, plan.claim), return_exceptions=True)
        for e in results:
            if isinstance(e, Exception):  # a lease not renewed ends by itself (may_pull)
                log.warning("leases: writing %s: %s", LEASES, e or type(e).__name__)
        self._tasks = [t for t in self._tasks if not t.done()]  # releases that ended
        for p in plan.release:
            leases.releasing(p)
            self._tasks.append(self._loop.create_task(self._release(kv, leases, p),
                                                      name=f"releasing {p}"))
        now = time.monotonic()
        for p in leases.held:  # claimed, or renewed again after the renewals had failed
            running = self._pulling.get(p)
            if leases.may_pull(p, now) and (running is None or running.done()):
                self._pulling[p] = self._loop.create_task(self._consume(js, p, leases),
                                                          name=f"partition {p}")

    async def _release(self, kv: KeyValue, leases: Leases, partition: int) -> None:
        """Give a partition back to its home worker once the batch in hand is settled."""
        running = self._pulling.get(partition)
        if running is not None:
            await asyncio.wait([running])
        await self._give_up(kv, leases, partition)
        log.info("partition %d: given back to its home worker", partition)

    async def _give_up(self, kv: KeyValue, leases: Leases, partition: int) -> None:
        """Delete the lease if it is still ours (renewals may have moved its revision
        meanwhile), so the next worker need not wait for it to lapse."""
        me, key = self._cfg.worker, lease_key(partition)
        try:
            for _ in range(3):
                entry = await kv.get(key)
                if (entry.value or b"").decode(errors="replace") != me:
                    break
                try:
                    await kv.delete(key, last=entry.revision)
                    break
                except APIError as e:
                    if e.err_code not in WRONG_LAST:
                        raise
        except KeyNotFoundError:
            pass
        except Exception as e:
            log.warning("partition %d: giving up its lease: %s; it lapses by itself", partition,
                        e or type(e).__name__)
        finally:
            leases.released(partition)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Make the stream, or find it made by another worker; its partition count must be
        ours (hubs would otherwise be split two ways)."""
        want = stream_config(self._cfg)
        while True:
            try:
                info = await js.add_stream(want)
            except BadRequestError as e:  # exists with another configuration
                info = await js.stream_info(STREAM)
                log.warning("stream %s exists with another configuration (%s); using it", STREAM,
                            e.description)
            except Exception as e:
                log.warning("making stream %s: %s; trying again", STREAM, e)
                await asyncio.sleep(RETRY_S)
                continue
            have, dest = info.config.subject_transform, want.subject_transform
            if have is None or dest is None or have.dest != dest.dest:
                raise StreamMismatch(f"stream {STREAM} splits hubs as {have and have.dest!r}, not "
                                   f"into {self._cfg.partitions} partitions: every worker needs "
                                   "the same nats.partitions (docs/county.md)")
            return

    async def _consume(self, js: JetStreamContext, partition: int,
                       leases: Leases | FixedTake) -> None:
        """Fetch and hand over batches while this worker holds the partition's lease."""
        config = ConsumerConfig(durable_name=consumer_name(partition),
                                filter_subject=f"{PREFIX}.{partition}.>",
                                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                ack_wait=self._cfg.ack_wait_s, max_ack_pending=self._cfg.batch,
                                num_replicas=self._cfg.replicas)
        sub = None
        try:
            while not self._closing and leases.may_pull(partition, time.monotonic()):
                try:
                    if sub is None:  # may take a while (a leader moving): the lease asked again
                        sub = await js.pull_subscribe(config.filter_subject or "",
                                                      durable=config.durable_name,
                                                      stream=STREAM, config=config)
                        continue
                    msgs = await sub.fetch(self._cfg.batch, timeout=FETCH_S)
                except (TimeoutError, NatsTimeout):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # a node lost, a leader moving: the consumer is durable
                    log.warning("partition %d: %s; fetching again", partition,
                                e or type(e).__name__)
                    await asyncio.sleep(RETRY_S)
                    continue
                if not leases.may_pull(partition, time.monotonic()):
                    await self._give_back(partition, msgs)  # the lease ended during the fetch
                elif msgs:
                    await self._hand_over(partition, msgs)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _hand_over(self, partition: int, msgs: list[Msg]) -> None:
        """Hand a batch to the station, let it commit (the work a delivery queues runs on the
        loop's next turn, before this resumes), then settle: acknowledged if stored, else
        left to come again after a pause."""
        for m in msgs:
            self.handed += 1
            self._on_message(topic_of(m.subject), m.data)
        await asyncio.sleep(0)  # resumes behind the callbacks queued meanwhile: the commits
        stored = self._stored()
        for m in msgs:
            try:
                await (m.ack() if stored else m.nak(delay=RETRY_S * 5))
            except Exception as e:  # not acknowledged: it comes again, and the store knows it
                log.warning("partition %d: settling a message: %s", partition, e)
        if not stored:
            log.warning("partition %d: %d message(s) not stored; JetStream sends them again",
                        partition, len(msgs))

    async def _give_back(self, partition: int, msgs: list[Msg]) -> None:
        """Refused at once, so the partition's next holder has them without waiting for
        ``ack_wait_s``."""
        for m in msgs:
            with contextlib.suppress(Exception):  # not refused: it comes again after ack_wait
                await m.nak()

    async def _nats_error(self, e: Exception) -> None:
        if "permissions violation" in str(e).lower() and LEASES in str(e):
            if self._refused:  # the bucket asked for again, refused again: said once
                log.debug("NATS: %s", e)
                return
            self._refused = str(e).strip()
        log.warning("NATS: %s", e)

    async def _nats_down(self) -> None:
        log.warning("NATS: disconnected; reconnecting")

    async def _nats_back(self) -> None:
        if self._nc is not None:
            log.info("NATS: connected to %s", self._nc.connected_url)


def ranges(ps: list[int]) -> str:
    """Partitions for a log line: a long run shortened."""
    return ",".join(str(p) for p in ps) if len(ps) < 8 else f"{ps[0]}..{ps[-1]} ({len(ps)})"
