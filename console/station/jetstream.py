"""The station's inbound path on a county's NATS cluster: JetStream instead of subscriptions.

Hubs and consoles still speak MQTT to the nodes' gateway, which publishes each message on
the NATS subject of its topic (``anxin/v1/hub/h001/event`` is ``anxin.v1.hub.h001.event``).
A stream the station makes (:data:`STREAM`, idempotently, ``replicas`` copies) keeps what
the station must hear: hub events, heartbeats and statuses, and console requests. As it stores
a message, its subject transform puts the hub id's partition in front
(``anxin.in.<p>.hub.h001.event``; all console requests fall in the partition of the word
``request``), so each partition is one durable pull consumer and one hub's messages are always
in the same one, in the order the gateway took them. A worker consumes the partitions its
configuration gives it (``nats.take``), one batch at a time each, and acknowledges a batch to
JetStream only after the station has committed it; the stream is a work queue, so an
acknowledged message is gone and the disk holds only the backlog.

Everything else stays MQTT (:class:`~hub.common.transport.PahoTransport` on ``broker``): the
replies (acks to hubs at QoS 1, alarm updates, call control, console replies), the station's
retained status and its will, its own status, and the calls' voice. Why this shape, and what
it does not do (no automatic hand-over of a dead worker's partitions), is in docs/county.md.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
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
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import BadRequestError

from console.station.config import NatsInbound
from console.station.trust.natsconf import STATION_INBOX, STATION_STREAM, subject
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
        """MQTT starts once the stream is there: the station says it is online only when
        what hubs send from then on is kept for it (a hub that sees it online sends at once)."""
        self._on_message, self._on_connection = on_message, on_connection
        self._tasks.append(self._loop.create_task(self._run(), name="jetstream"))

    def close(self) -> None:
        """Stop consuming (what was fetched and not acknowledged goes again, to whoever
        takes the partition next) and close MQTT; :meth:`aclose` also waits for NATS."""
        for t in self._tasks:
            t.cancel()
        self._mqtt.close()

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=CLOSE_S)
            if late:
                log.warning("NATS: %s did not stop", ", ".join(t.get_name() for t in late))
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
        self._mqtt.start(self._on_message, self._on_connection)
        self._tasks.extend(self._loop.create_task(self._consume(js, p), name=f"partition {p}")
                           for p in self._cfg.taken)
        log.info("consuming %s partitions %s of %d", STREAM, ranges(self._cfg.taken),
                 self._cfg.partitions)

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

    async def _consume(self, js: JetStreamContext, partition: int) -> None:
        config = ConsumerConfig(durable_name=consumer_name(partition),
                                filter_subject=f"{PREFIX}.{partition}.>",
                                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                ack_wait=self._cfg.ack_wait_s, max_ack_pending=self._cfg.batch,
                                num_replicas=self._cfg.replicas)
        sub = None
        while True:
            try:
                if sub is None:
                    sub = await js.pull_subscribe(config.filter_subject or "",
                                                  durable=config.durable_name, stream=STREAM,
                                                  config=config)
                msgs = await sub.fetch(self._cfg.batch, timeout=FETCH_S)
            except (TimeoutError, NatsTimeout):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a node lost, a leader moving: the consumer is durable
                log.warning("partition %d: %s; fetching again", partition, e or type(e).__name__)
                await asyncio.sleep(RETRY_S)
                continue
            if msgs:
                await self._hand_over(partition, msgs)

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

    async def _nats_error(self, e: Exception) -> None:
        log.warning("NATS: %s", e)

    async def _nats_down(self) -> None:
        log.warning("NATS: disconnected; reconnecting")

    async def _nats_back(self) -> None:
        if self._nc is not None:
            log.info("NATS: connected to %s", self._nc.connected_url)


def ranges(ps: list[int]) -> str:
    """Partitions for a log line: a long run shortened."""
    return ",".join(str(p) for p in ps) if len(ps) < 8 else f"{ps[0]}..{ps[-1]} ({len(ps)})"
