"""Render a county's NATS cluster: each node's configuration and the users file they share.

A county runs three NATS nodes with JetStream instead of one Mosquitto (docs/county.md). The
hubs still speak MQTT, to the nodes' MQTT gateway, with the same certificates; what each
identity may publish and subscribe to is *derived from the Mosquitto ACL template*
(config/mosquitto/acl), so the two brokers grant the same topics and the ACL stays the one
place they are written. NATS has no ``%u`` patterns in a configuration file: every hub is a
user of its own, so the users file names the county's hubs.

NATS sees an MQTT topic as a subject: ``anxin/v1/hub/h001/event`` is ``anxin.v1.hub.h001.event``,
``+`` is ``*`` and a trailing ``#`` is ``>`` (which, unlike ``#``, does not match the parent
level, so that is granted too). Only allow-lists are written: older NATS releases let
retained and queued QoS 1 messages past subscribe *deny* rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from console.station.trust.brokerconf import TlsFiles, render_acl
from console.station.trust.pki import console_identity, hub_identity, station_identity
from hub.common.shipped import SHIPPED

TEMPLATES = SHIPPED / "nats"
CLUSTER_SIZE = 3
# Who may use which kind of connection. Hubs and consoles speak MQTT only: with a NATS client
# connection they could subscribe to the gateway's internal subjects ($MQTT.sub.…), which
# NATS lets MQTT clients use without asking. Station workers also read JetStream directly.
CONNECTION_TYPES = {"hub": ("MQTT",), "console": ("MQTT",), "station": ("STANDARD", "MQTT")}
# The station workers' stream (console/station/jetstream.py) and what a worker needs of the
# JetStream API for it, and only for it: make the stream, make and read its consumers, fetch
# and acknowledge. Not the MQTT gateway's own streams ($MQTT_…), which hold every session.
STATION_STREAM = "ANXIN_IN"
STATION_INBOX = "_INBOX_anxin_station"  # replies to a worker's API requests and fetches
STATION_JS_PUBLISH = [f"$JS.API.STREAM.{verb}.{STATION_STREAM}" for verb in ("CREATE", "INFO",
                                                                           "UPDATE")] + [
    f"$JS.API.CONSUMER.{verb}.{STATION_STREAM}.>"
    for verb in ("CREATE", "DURABLE.CREATE", "INFO", "MSG.NEXT")] + [
    f"$JS.ACK.{STATION_STREAM}.>"]
# The workers' partition leases (console/station/leases.py), a key-value bucket: make it, read
# a key from its leader, write the keys (each write a publish to the bucket's stream).
STATION_LEASES = "anxin_leases"
STATION_JS_PUBLISH += [f"$JS.API.STREAM.{verb}.KV_{STATION_LEASES}" for verb in (
    "CREATE", "INFO", "MSG.GET")] + [f"$KV.{STATION_LEASES}.>"]
_LEVEL = re.compile(r"[A-Za-z0-9_:%-]+|[+#]")  # what an ACL topic level may be (no '.', '$', ' ')


class NatsConfigError(ValueError):
    """The ACL or an identity cannot be expressed as NATS permissions; str() says why."""


@dataclass(frozen=True, slots=True)
class Node:
    """One node: ``host`` is how hubs, workers and the other nodes reach it (its certificate
    must name it); it listens on ``bind``. Ports are the same on every node of a county's
    cluster, but differ on loopback (tests/support/nats.py)."""

    host: str
    mqtt_port: int = 8883
    client_port: int = 4222
    cluster_port: int = 6222
    http_port: int = 8222
    bind: str = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Grants:
    """One identity's allow-lists, as NATS subjects."""

    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)


def subject(topic: str) -> str:
    """The NATS subject of an MQTT topic or filter from the ACL."""
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if not _LEVEL.fullmatch(level) or (level == "#" and i != len(levels) - 1):
            raise NatsConfigError(f"topic {topic!r}: level {level!r} has no NATS subject here")
    return ".".join({"+": "*", "#": ">"}.get(level, level) for level in levels)


def grants(acl: str, identity: str) -> Grants:
    """What the ACL text lets ``identity`` do: every ``pattern`` with %u as the identity, and
    the ``topic`` lines of its own ``user`` paragraph."""
    out = Grants()
    user: str | None = None
    for n, raw in enumerate(acl.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0] == "user" and len(words) == 2:
            user = words[1]
            continue
        if words[0] not in ("pattern", "topic") or len(words) != 3 \
                or words[1] not in ("read", "write", "readwrite"):
            raise NatsConfigError(f"acl line {n}: {line!r} is not `pattern|topic read|write|"
                                  "readwrite TOPIC`")
        if words[0] == "topic" and user is None:
            raise NatsConfigError(f"acl line {n}: a topic line before any user line")
        if words[0] == "topic" and user != identity:
            continue
        subj = subject(words[2].replace("%u", identity) if words[0] == "pattern" else words[2])
        allowed = [subj, subj.removesuffix(".>")] if subj.endswith(".>") else [subj]
        if words[1] in ("write", "readwrite"):
            out.publish.extend(s for s in allowed if s not in out.publish)
        if words[1] in ("read", "readwrite"):
            out.subscribe.extend(s for s in allowed if s not in out.subscribe)
    return out


def render_users(*, hubs: Iterable[str], stations: Sequence[str],
                 consoles: Sequence[str] = ()) -> str:
    """users.conf, the same on every node: one user per hub, station and console, named by
    its certificate's subject, with allow-lists from the ACL template."""
    hubs = sorted({hub_identity(h) for h in hubs})
    acl = render_acl(stations=stations, consoles=consoles)
    roles = [("hub", h) for h in hubs] + [("station", station_identity(s)) for s in stations] \
        + [("console", console_identity(c)) for c in consoles]
    users = [_user(role, who, _with_jetstream(grants(acl, who)) if role == "station"
                   else grants(acl, who)) for role, who in roles]
    return _template("users.conf").substitute(users="\n".join(users))


def _with_jetstream(g: Grants) -> Grants:
    return Grants(publish=[*g.publish, *STATION_JS_PUBLISH],
                  subscribe=[*g.subscribe, f"{STATION_INBOX}.>"])


def _user(role: str, identity: str, g: Grants) -> str:
    """One entry of the users list; JSON strings are valid NATS configuration strings."""
    q = json.dumps
    return (f"    {{user: {q(f'CN={identity}')}, allowed_connection_types: "
            f"[{', '.join(q(t) for t in CONNECTION_TYPES[role])}], permissions: {{"
            f"publish: {{allow: [{', '.join(q(s) for s in g.publish)}]}}, "
            f"subscribe: {{allow: [{', '.join(q(s) for s in g.subscribe)}]}}}}}}")


def render_node(tls: TlsFiles, *, nodes: Sequence[Node], node: int, store_dir: Path,
                max_file_store: str = "20GB") -> str:
    """The configuration of node ``node`` (1-based) of ``nodes``; users.conf must be beside it.
    ``tls`` is that node's certificate (`anxin ca issue-node`) and the station CA."""
    if not 1 <= node <= len(nodes):
        raise NatsConfigError(f"node {node}: the cluster has nodes 1 to {len(nodes)}")
    me = nodes[node - 1]
    routes = [f'    "nats-route://{_hostport(n.host, n.cluster_port)}"'
              for i, n in enumerate(nodes, 1) if i != node]
    return _template("node.conf").substitute(
        name=f"anxin-{node}", ca=tls.ca.resolve(), cert=tls.cert.resolve(), key=tls.key.resolve(),
        client_listen=_hostport(me.bind, me.client_port),
        mqtt_listen=_hostport(me.bind, me.mqtt_port),
        cluster_listen=_hostport(me.bind, me.cluster_port),
        http_listen=_hostport("127.0.0.1", me.http_port),
        store_dir=store_dir.resolve(), max_file_store=max_file_store, routes="\n".join(routes))


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text(encoding="utf-8"))
