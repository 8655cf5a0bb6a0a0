"""The transport: a small publish/subscribe interface, a paho-mqtt adapter and a fake.

Hub, station and console talk through :class:`Transport` only. :class:`PahoTransport`
runs paho's network thread (which also reconnects) and hands every message and
connection change to the asyncio loop; :class:`MemoryBroker` is the in-memory fake for unit
tests. Integration tests and the demo use the real Mosquitto.

The hand-over wakes the loop once per batch, not once per message: each wake-up is a byte in
the loop's self-pipe, which is also where a signal is reported, and a burst of thousands of
messages (every home saying goodbye at once) filled it while the station was busy, so the
SIGTERM that came then was lost and the service never stopped.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Protocol, runtime_checkable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import AfterValidator, Field, model_validator

from hub.common.configfile import ConfigError, ConfigPath, Strict
from hub.common.wire import MAX_PAYLOAD

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], None]
OnConnection = Callable[[bool], None]

MAX_TOPIC_BYTES = 65535
# A subscription the broker refused is asked for again after this, doubling (with jitter) up
# to RESUBSCRIBE_MAX_S while it is refused. A NATS node refuses one (SUBACK 0x80) when it
# cannot make the JetStream consumer behind it in time, as right after a node of the cluster
# died; without asking again, a hub would never hear its acks. Hundreds of hubs fail over at
# once then: asking every 2 s each only adds to the elections' backlog (tests/bench/bench_scale.py
# --cluster).
RESUBSCRIBE_S = 2.0
RESUBSCRIBE_MAX_S = 30.0
# What Mosquitto refuses in a topic (its mosquitto_validate_utf8): control characters, UTF-16
# surrogates and the Unicode non-characters. A client that sends one is disconnected, and paho
# sends an unacknowledged QoS 1 message again after every reconnect: one bad topic would keep
# the client off the broker for good.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)) + "]")


def topic_fault(topic: str, *, filter_: bool = False) -> str | None:
    """Why the broker would refuse ``topic`` as a topic name (or, with ``filter_``, as a
    subscription filter), None if it would not."""
    if not topic:
        return "empty topic"
    if not filter_ and ("+" in topic or "#" in topic):
        return "a wildcard (+ or #) in a topic name"
    if bad := _REFUSED.search(topic):
        return f"character {bad.group()!r} refused by MQTT"
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_TOPIC_BYTES:
        return f"longer than {MAX_TOPIC_BYTES} bytes"
    return None


def _sendable(topic: str, what: str, *, filter_: bool = False) -> bool:
    """Log and say False for a topic that would cost the connection: it is dropped here."""
    fault = topic_fault(topic, filter_=filter_)
    if fault:
        log.error("not %s %.200r: %s; dropped", what, topic, fault)
    return fault is None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e.strerror or e}") from None


def _certificate(path: Path) -> Path:
    from cryptography import x509  # 8 MB resident: only for a config that uses TLS

    data = _read(path)
    try:
        x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ValueError(f"{path} is not a PEM certificate") from None
    return path


def _private_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    data = _read(path)
    try:
        serialization.load_pem_private_key(data, None)
    except TypeError:
        raise ValueError(f"{path} is encrypted; the hub starts unattended, so its key "
                         "cannot have a passphrase") from None
    except ValueError:
        raise ValueError(f"{path} is not a PEM private key") from None
    return path


CertPath = Annotated[ConfigPath, AfterValidator(_certificate)]
KeyPath = Annotated[ConfigPath, AfterValidator(_private_key)]


class TlsConfig(Strict):
    """Mutual TLS with the station's broker. The broker takes the certificate's Common Name
    as this client's identity, and its ACL grants topics by it (docs/security.md)."""

    ca: CertPath = Field(description="the station CA certificate (ca.crt): the broker's "
                         "certificate must be signed by it and name the broker host")
    cert: CertPath = Field(description="this client's certificate from `anxin ca issue-…`; "
                           "its CN is the identity: the hub id, station:<id> or console:<name>")
    key: KeyPath = Field(description="the private key of cert (unencrypted; keep it mode 0600)")

    @model_validator(mode="after")
    def _key_fits(self) -> TlsConfig:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        key = serialization.load_pem_private_key(self.key.read_bytes(), None)
        if cert.public_key() != key.public_key():
            raise ValueError(f"key: {self.key} is not the key of the certificate {self.cert}")
        return self

    @property
    def identity(self) -> str:
        """Who the broker will take this client for: the certificate's Common Name."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cns[0].value) if cns else ""


def check_endpoint(value: str) -> str:
    """A validator: ``value`` is host, host:port or [address]:port."""
    split_endpoint(value, 1)
    return value


def split_endpoint(value: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6 address]`` or ``[v6 address]:port`` as (host, port)."""
    host, port = value, None
    if value.startswith("["):
        end = value.find("]")
        host, rest = (value[1:end], value[end + 1:]) if end > 0 else ("", "")
        if rest:
            port = rest.removeprefix(":") if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not host or any(c.isspace() or c in "/[]" for c in host) or port == "":
        raise ValueError(f"{value!r} is not host, host:port or [address]:port")
    if port is not None and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"{value!r}: the port must be 1 to 65535")
    return host, int(port) if port else default_port


class BrokerConfig(Strict):
    """Where the MQTT broker is: one (host, port), or several (hosts) to fail over between."""

    host: str = Field("127.0.0.1", description="broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="the broker's port; with hosts, the "
                      "port of an entry that names none")
    hosts: list[Annotated[str, AfterValidator(check_endpoint)]] | None = Field(
        None, min_length=1, max_length=16, description="instead of host: several brokers (a "
        "county's NATS nodes) as host or host:port; the client connects to the first that "
        "answers and moves on to the next when it loses the connection")
    keepalive_s: int = Field(15, ge=5, le=600, description="MQTT keepalive; the broker "
                             "publishes the last will after 1.5x this with no traffic")
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = Field(None, description="connect over TLS with this client "
                                  "certificate (port 8883 by convention); none: plain MQTT")

    @model_validator(mode="after")
    def _host_or_hosts(self) -> BrokerConfig:
        if self.hosts is not None and "host" in self.model_fields_set:
            raise ValueError("give host or hosts, not both")
        return self

    @property
    def endpoints(self) -> list[tuple[str, int]]:
        """Every broker to try, in order: (host, port)."""
        if self.hosts is None:
            return [(self.host, self.port)]
        return [split_endpoint(h, self.port) for h in self.hosts]

    def at(self, host: str, port: int) -> BrokerConfig:
        """The same settings for one of the endpoints alone (`anxin doctor` checks each)."""
        return self.model_copy(update={"host": host, "port": port, "hosts": None})


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


class Transport(Protocol):
    """What the hub, station and console need from a message broker."""

    def start(self, on_message: OnMessage, on_connection: OnConnection) -> None: ...
    def subscribe(self, topic: str, qos: int = 1) -> None: ...
    def unsubscribe(self, topic: str) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None: ...
    def close(self) -> None: ...
    @property
    def connected(self) -> bool: ...


@runtime_checkable
class Settling(Protocol):
    """A transport that gives up a delivered message only once its receiver has stored it
    (the station's JetStream path): ``stored()`` answers, after the loop has run the work a
    delivery queued, whether that work's commits succeeded; if not, the broker keeps the
    messages and delivers them again. ``aclose()`` after ``close()`` waits until it has
    stopped."""

    def settle_when(self, stored: Callable[[], bool]) -> None: ...
    async def aclose(self) -> None: ...


class PahoTransport:
    """paho-mqtt adapter. Callbacks are delivered on the asyncio loop given at start.

    With several endpoints (broker.hosts) it tries them in turn: the first at start, then the
    next after every failed attempt or lost connection, round and round, with paho's backoff
    (1 s doubling to 10 s, back to 1 s once connected) between attempts. A persistent session
    lives in the cluster, not in one node, so it carries on at the next. A subscription the
    broker refuses is asked for again, after RESUBSCRIBE_S and then longer, while it stays
    wanted."""

    def __init__(
        self, *, broker: BrokerConfig, client_id: str, loop: asyncio.AbstractEventLoop,
        will: Will | None = None, persistent_session: bool = True,
    ) -> None:
        self._loop = loop
        self._broker = broker
        self._endpoints = broker.endpoints
        self._at = -1  # index of the endpoint being tried or used
        self._subs: dict[str, int] = {}
        self._asked: dict[int, str] = {}  # SUBSCRIBE message id -> its filter, until the SUBACK
        self._asking = threading.Lock()  # a SUBACK may come before subscribe() has returned
        self._refused: dict[str, int] = {}  # filter -> refusals in a row (paho's thread)
        self._on_message: OnMessage = lambda t, p: None
        self._on_connection: OnConnection = lambda up: None
        self._connected = False
        self._closed = False
        self._handed: deque[Callable[[], None]] = deque()  # from paho's thread, for the loop
        self._waking = False  # the loop has been woken for what is in _handed
        # A persistent session makes the broker queue QoS 1 messages while we are away.
        c = paho_client(broker, client_id, persistent_session=persistent_session)
        if will:
            c.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        c.reconnect_delay_set(min_delay=1, max_delay=10)
        # Leave paho's queue settings at their defaults: in paho 2.2, calling
        # max_queued_messages_set() before connecting stops a publish from another thread
        # waking the network thread, so it waits for the 1 s select timeout
        # (tests/bench/bench_press_latency.py shows it).
        c.on_pre_connect = self._next_endpoint
        c.on_connect = self._paho_connect
        c.on_disconnect = self._paho_disconnect
        c.on_message = self._paho_message
        c.on_subscribe = self._paho_subscribed
        self._client = c

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, on_message: OnMessage, on_connection: OnConnection) -> None:
        self._on_message, self._on_connection = on_message, on_connection
        # connect_async + loop_start: paho retries the first connection too, so a hub that
        # boots before the network is up just keeps trying.
        host, port = self._endpoints[0]
        self._client.connect_async(host, port, self._broker.keepalive_s)
        self._client.loop_start()

    @property
    def endpoint(self) -> str:
        """The broker this client is connected to, or trying."""
        host, port = self._endpoints[max(self._at, 0)]
        return f"{host}:{port}"

    def subscribe(self, topic: str, qos: int = 1) -> None:
        if not _sendable(topic, "subscribing to", filter_=True):
            return
        self._subs[topic] = qos
        if self._connected:
            self._ask(topic, qos)

    def _ask(self, topic: str, qos: int) -> None:
        """Send a SUBSCRIBE (any thread) and remember which filter its SUBACK answers."""
        with self._asking:
            rc, mid = self._client.subscribe(topic, qos)
            if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
                self._asked[mid] = topic

    def unsubscribe(self, topic: str) -> None:
        """Also for a filter only the persistent session holds (subscribed by an earlier
        version of this client): the broker drops it too."""
        self._subs.pop(topic, None)
        if self._connected:
            self._client.unsubscribe(topic)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Queue for sending; a message the broker would refuse is logged and dropped instead."""
        if fits(topic, payload):
            self._client.publish(topic, payload, qos=qos, retain=retain)

    def close(self) -> None:
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()

    # paho's network thread -> the asyncio loop
    def _next_endpoint(self, client: paho.Client, _u: Any) -> None:
        """Before each attempt (paho's reconnect(), on its thread): aim at the next endpoint.
        paho's host and port setters refuse while it reconnects, so its fields are set."""
        self._at = (self._at + 1) % len(self._endpoints)
        client._host, client._port = self._endpoints[self._at]

    def _paho_connect(self, client: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("broker %s refused the connection: %s", self.endpoint, rc)
            return
        with self._asking:
            self._asked.clear()
        for topic, qos in list(self._subs.items()):
            self._ask(topic, qos)
        self._hand_over(partial(self._set_connected, True))

    def _paho_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._hand_over(partial(self._set_connected, False))

    def _paho_subscribed(self, _c: paho.Client, _u: Any, mid: int, codes: list[Any],
                         _p: Any) -> None:
        with self._asking:
            topic = self._asked.pop(mid, None)
        if topic is None:
            return
        if not any(rc.is_failure for rc in codes):
            if n := self._refused.pop(topic, 0):
                log.info("broker %s granted the subscription to %s after %d refusal(s)",
                         self.endpoint, topic, n)
            return
        n = self._refused[topic] = self._refused.get(topic, 0) + 1
        delay = min(RESUBSCRIBE_S * 2 ** (n - 1), RESUBSCRIBE_MAX_S) * random.uniform(0.75, 1.25)
        log.log(logging.WARNING if n == 1 else logging.DEBUG, "broker %s refused the "
                "subscription to %s (%s); asking again in %.0f s", self.endpoint, topic,
                codes[0], delay)
        self._loop.call_soon_threadsafe(self._loop.call_later, delay, self._ask_again, topic)

    def _ask_again(self, topic: str) -> None:
        if topic in self._subs and self._connected and not self._closed:
            self._ask(topic, self._subs[topic])

    def _paho_message(self, _c: paho.Client, _u: Any, msg: paho.MQTTMessage) -> None:
        self._hand_over(partial(self._deliver, msg.topic, bytes(msg.payload)))

    def _hand_over(self, work: Callable[[], None]) -> None:
        """Queue ``work`` for the loop, in order; wake the loop only if it is not woken yet."""
        self._handed.append(work)
        if not self._waking:
            self._waking = True
            self._loop.call_soon_threadsafe(self._take_over)

    def _take_over(self) -> None:
        self._waking = False  # first: anything handed from now on wakes the loop again
        while self._handed:
            try:
                self._handed.popleft()()
            except Exception:  # as the loop does for a callback that fails: the rest go on
                log.exception("handling a message from the broker failed")

    def _deliver(self, topic: str, payload: bytes) -> None:
        if not self._closed:  # messages still queued on the loop after close() are not ours
            self._on_message(topic, payload)

    def _set_connected(self, up: bool) -> None:
        if up != self._connected and not self._closed:
            self._connected = up
            log.info("broker %s %s", self.endpoint, "connected" if up else "disconnected")
            self._on_connection(up)


def fits(topic: str, payload: bytes) -> bool:
    """Whether the station's broker will take this message: a topic it accepts (topic_fault)
    and a payload up to the protocol's limit (config/mosquitto/mosquitto.conf). One that does
    not is not sent but logged: the broker would drop it, or close the connection on a bad
    topic or a packet far over, and paho would send that packet again after every reconnect,
    keeping its sender off the broker for good."""
    if not _sendable(topic, "publishing on"):
        return False
    if len(payload) <= MAX_PAYLOAD:
        return True
    log.error("not publishing %d bytes on %.200r: the broker takes at most %d", len(payload),
              topic, MAX_PAYLOAD)
    return False


def paho_client(broker: BrokerConfig, client_id: str, *, persistent_session: bool) -> paho.Client:
    """A paho client with the broker's credentials and TLS, not yet connected. Shared by the
    transport and `anxin doctor`, so the doctor's test login is the one the hub makes."""
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    clean_session=not persistent_session)
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    if broker.tls:
        tls = broker.tls
        try:  # verifies the broker's certificate and host name too (paho's defaults)
            c.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert), keyfile=str(tls.key))
        except OSError as e:  # ssl.SSLError included; the files changed since validation
            raise ConfigError(f"broker.tls: cannot use certificate {tls.cert}, key {tls.key} "
                              f"and CA {tls.ca}: {e}") from None
    c.on_socket_open = _no_delay
    return c


def _no_delay(_c: paho.Client, _u: Any, sock: Any) -> None:
    """Turn Nagle off: paho leaves it on, so a publish right after a tiny PUBACK waited for
    the broker's delayed TCP ACK (~30-40 ms per alarm in tests/bench/bench_press_latency)."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MemoryBroker:
    """An in-memory broker for unit tests: topic filters with + and #, retained messages."""

    def __init__(self) -> None:
        self.clients: list[MemoryTransport] = []
        self.retained: dict[str, bytes] = {}
        self.lose: Callable[[str, bytes], bool] | None = None  # fault injection: True drops it

    def client(self, will: Will | None = None) -> MemoryTransport:
        t = MemoryTransport(self, will)
        self.clients.append(t)
        return t

    def route(self, topic: str, payload: bytes, retain: bool) -> None:
        if self.lose and self.lose(topic, payload):
            return
        if retain:
            self.retained[topic] = payload
        for c in self.clients:
            if c.connected and any(topic_matches(f, topic) for f in c.filters):
                c.deliver(topic, payload)


class MemoryTransport:
    def __init__(self, broker: MemoryBroker, will: Will | None) -> None:
        self._broker, self._will = broker, will
        self.filters: list[str] = []
        self._connected = False
        self._on_message: OnMessage = lambda t, p: None
        self._on_connection: OnConnection = lambda up: None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, on_message: OnMessage, on_connection: OnConnection) -> None:
        self._on_message, self._on_connection = on_message, on_connection
        self._connected = True
        on_connection(True)

    def subscribe(self, topic: str, qos: int = 1) -> None:
        if _sendable(topic, "subscribing to", filter_=True):
            self.filters.append(topic)
            self._retained(topic)

    def unsubscribe(self, topic: str) -> None:
        self.filters = [f for f in self.filters if f != topic]

    def _retained(self, filter_: str) -> None:
        for t, p in list(self._broker.retained.items()):
            if topic_matches(filter_, t):
                self.deliver(t, p)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        if self._connected and fits(topic, payload):
            self._broker.route(topic, payload, retain)

    def deliver(self, topic: str, payload: bytes) -> None:
        """On the next loop turn, as paho's thread hands messages over: a reply never runs
        inside the publish that caused it."""
        try:
            asyncio.get_running_loop().call_soon(self._on_message, topic, payload)
        except RuntimeError:  # no loop: a plain synchronous unit test
            self._on_message(topic, payload)

    def drop(self) -> None:
        """Simulate a lost connection: the broker publishes the last will."""
        self._connected = False
        self._on_connection(False)
        if self._will:
            self._broker.route(self._will.topic, self._will.payload, self._will.retain)

    def reconnect(self) -> None:
        self._connected = True
        self._on_connection(True)
        for f in self.filters:  # retained messages again, as a fresh subscription gets them
            self._retained(f)

    def close(self) -> None:
        self._connected = False


def topic_matches(filter_: str, topic: str) -> bool:
    """MQTT topic filter matching, including ``$share/<group>/`` prefixes."""
    if filter_.startswith("$share/"):
        filter_ = filter_.split("/", 2)[2]
    return paho.topic_matches_sub(filter_, topic)
