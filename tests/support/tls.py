"""MQTT peers with certificates from a test CA, and a station with a hub on a TLS broker."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from console.station.config import StationConfig
from console.station.trust.localca import LocalCa
from hub.common import wire
from hub.runtime.config import HubConfig
from tests.conftest import REPO

WAIT_S = 5.0


STATION_FILTERS = (wire.hub_wildcard("event"), wire.hub_wildcard("heartbeat"),
                   wire.hub_wildcard("status"), wire.STATION_REQUESTS)


class Peer:
    """A bare MQTT 5 client over TLS (or plain TCP with ``tls=None``)."""

    def __init__(self, port: int, tls: tuple[Path, Path | None, Path | None] | None, *,
                 will: str | None = None, protocol: int = paho.MQTTv5) -> None:
        self.port = port
        self.received: list[tuple[str, bytes]] = []
        self.acks: dict[int, ReasonCode] = {}
        self.connack: ReasonCode | None = None
        self.gone = threading.Event()
        self._answered = threading.Event()
        self._lock = threading.Condition()
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{time.monotonic_ns()}",
                        protocol=protocol)
        if tls:
            ca, cert, key = tls
            c.tls_set(ca_certs=str(ca), certfile=cert and str(cert), keyfile=key and str(key))
        if will:
            c.will_set(will, b'{"forged": true}', qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_publish = self._on_publish
        self.client = c

    def connect(self) -> bool:
        """True once the broker accepted the connection; False if it closed it instead."""
        try:
            self.client.connect("127.0.0.1", self.port)
        except OSError:  # the TLS handshake may fail inside connect()
            return False
        self.client.loop_start()
        self._answered.wait(WAIT_S)
        return self.connack is not None and not self.connack.is_failure and not self.gone.is_set()

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason."""
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        with self._lock:
            assert self._lock.wait_for(lambda: mid in self.acks, WAIT_S), f"no PUBACK for {topic}"
            return self.acks[mid]

    def subscribe(self, *filters: str) -> None:
        self.subscribe_codes(*filters)

    def subscribe_codes(self, *filters: str, timeout: float = WAIT_S) -> list[int]:
        """Subscribe at QoS 1; the SUBACK's codes (1: granted, 128: refused)."""
        done = threading.Event()
        codes: list[int] = []

        def subscribed(_c: Any, _u: Any, _m: Any, rcs: list[ReasonCode], _p: Any) -> None:
            codes.extend(rc.value for rc in rcs)
            done.set()

        self.client.on_subscribe = subscribed
        self.client.subscribe([(f, 1) for f in filters])
        assert done.wait(timeout), f"no SUBACK for {filters}"
        return codes

    def wait_for(self, topic: str, timeout: float = WAIT_S) -> list[tuple[str, bytes]]:
        """Everything received until a message on ``topic`` has arrived."""
        with self._lock:
            assert self._lock.wait_for(lambda: any(t == topic for t, _ in self.received), timeout), \
                f"nothing on {topic}; got {self.topics()}"
            return list(self.received)

    def topics(self) -> list[str]:
        with self._lock:
            return [t for t, _ in self.received]

    def drop(self) -> None:
        """Vanish without DISCONNECT, so the broker sends the last will."""
        self.client.loop_stop()
        sock = self.client.socket()
        if isinstance(sock, socket.socket):
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connack = rc
        self._answered.set()

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        self.gone.set()
        self._answered.set()

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, bytes(msg.payload)))
            self._lock.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._lock:
            self.acks[mid] = rc
            self._lock.notify_all()


class Pki(LocalCa):
    """A station CA in a temporary folder, with a certificate per identity on demand."""

    def __init__(self, root: Path) -> None:
        super().__init__(root / "ca")


@pytest.fixture
def ca(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def station_and_hub(tmp_path: Path, ca: Pki, port: int) -> tuple[StationConfig, HubConfig]:
    """The station service and hub h001, each with its own certificate from ``ca``."""
    broker = {"port": port}
    station_cfg = StationConfig.model_validate({
        "database": str(tmp_path / "station.db"), "homes_file": str(REPO / "config/homes.yaml"),
        "broker": {**broker, "tls": ca.tls("station:station")}})
    hub_cfg = HubConfig.model_validate({
        "hub_id": "h001", "data_dir": str(tmp_path / "h001"),
        "broker": {**broker, "tls": ca.tls("h001")}, "link": {"heartbeat_s": 1, "retry_s": 1},
        "gpio": {"backend": "sim"}, "buttons": [{"name": "bedside", "pin": 17}]})
    return station_cfg, hub_cfg


SHARED = [f"$share/{group}/{f}" for group in ("anxin-station", "rogue") for f in STATION_FILTERS]
