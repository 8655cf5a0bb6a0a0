"""A station busy with a burst of messages (every home of a township saying goodbye at once)
still stops on SIGTERM: paho's thread once woke the loop once per message, the loop's
self-pipe filled while the station committed, and the signal, reported through that pipe,
was lost."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from console.station.trust.broker import Mosquitto
from hub.common import wire

HOMES = 6000


def test_station_stops_on_sigterm_during_a_burst(tmp_path: Path, broker: Mosquitto) -> None:
    cfg = tmp_path / "station.yaml"
    cfg.write_text(yaml.safe_dump({"database": str(tmp_path / "station.db"),
                                   "broker": {"port": broker.port}}))
    station = subprocess.Popen([sys.executable, "-m", "hub.cli.main", "station", "--config",
                                str(cfg)], stderr=subprocess.DEVNULL)
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id="burst")
    online: list[bool] = []
    c.on_message = lambda _c, _u, m: online.append(
        wire.decode_as(m.payload, wire.StationStatus).online)
    c.connect("127.0.0.1", broker.port)
    c.subscribe(wire.STATION_STATUS, qos=1)
    c.loop_start()
    try:
        deadline = time.monotonic() + 20
        while not any(online) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(online), "the station did not come online"
        for i in range(HOMES):  # each a durable commit at the station
            hub = f"b{i:05d}"
            c.publish(wire.hub_topic(hub, "status"),
                      wire.encode(wire.Status(hub=hub, online=i % 2 == 0, ts=time.time())), qos=0)
        time.sleep(0.3)  # the station is working through them
        station.terminate()
        try:
            station.wait(20)
        except subprocess.TimeoutExpired:
            station.kill()
            raise AssertionError("the station did not stop within 20 s of SIGTERM") from None
    finally:
        c.disconnect()
        c.loop_stop()
        if station.poll() is None:
            station.kill()
