"""The station service killed (SIGKILL) during a call: the call goes on between the console
and the home (its voice never passed through the station), the recording keeps what was
written before (flushed every second) and is marked incomplete by the restarted service,
which then ends the call as usual."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

from console.station.store.reader import StationReader
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from console.tui.call_line import CallLine
from console.tui.client import StationClient
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone
from hub.cli.demo import spawn, wait_for, write_yaml
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import REPO, eventually
from tests.support.accounts import PASSWORD, add_users
from tests.support.callkit import home_with_voice, tone


async def test_a_call_outlives_a_station_restart_and_its_recording_is_marked_incomplete(
        tmp_path: Path, broker: Mosquitto, hub_cfg: Callable[..., HubConfig],
        cheap_passwords: None) -> None:
    folder = tmp_path / "station"
    homes = yaml.safe_load((REPO / "config/homes.yaml").read_text(encoding="utf-8"))
    write_yaml(folder / "homes.yaml", homes)
    write_yaml(folder / "station.yaml", {"database": "station.db", "homes_file": "homes.yaml",
                                         "broker": {"port": broker.port}, "offline_after_s": 5})
    add_users(folder / "station.db", ("zhang", "张三", Role.DUTY))
    station = spawn(["station", "--config", str(folder / "station.yaml")], folder / "station.log")
    wait_for([folder / "station.db-wal"], [station], 15)
    headset = LoopbackAudio()  # the officer listens (the hub's voice switch would favour them)
    cfg = home_with_voice(hub_cfg, tmp_path, tone(440, 1.0), silence_s=30)
    try:
        async with HubService(cfg) as hub:
            client = StationClient.over_mqtt(cfg.broker, on_changed=lambda _: None,
                                             on_station=lambda _: None)
            client.start()
            line = CallLine(client, Speakerphone(headset))
            try:
                assert (await client.login("zhang", PASSWORD, timeout=10)).ok
                await eventually(lambda: hub.link.connected, what="hub up")
                deadline = time.monotonic() + 10
                while not (reply := await line.start(hub="h001")).ok:  # until the home is online
                    assert reply.code == "hub_offline" and time.monotonic() < deadline, reply
                    await asyncio.sleep(0.2)
                await eventually(lambda: hub.calls.mic_open, what="mic open")
                await asyncio.sleep(2.5)  # two flushes of the recording
                station.send_signal(signal.SIGKILL)
                station.wait(5)
                heard_before = len(headset.played)
                await asyncio.sleep(1.5)
                outage = headset.played[heard_before:]
                assert hub.calls.mic_open  # the call goes on without the station
                assert np.sqrt(np.mean(outage.astype(np.float64) ** 2)) > 300  # the elder heard
                station = spawn(["station", "--config", str(folder / "station.yaml")],
                                folder / "station2.log")
                store = StationReader.open(folder / "station.db")
                try:
                    assert line.call
                    call = await eventually(lambda: (c := store.calls.get(line.call.id))  # type: ignore[union-attr]
                                            and c.recording_note and c, what="marked incomplete")
                    assert "incomplete" in call.recording_note and call.ended is None
                    info = sf.info(call.recording)
                    print(f"recording kept {info.duration:.2f} s of the 2.5 s before the kill")
                    assert info.duration >= 1.0 and info.channels == 2
                    # the killed station's will said offline: the console sends again once
                    # the new one says it is up (it refuses, 'not sent', before)
                    await eventually(lambda: client.reachable, what="the new station heard")
                    hung = await line.hang_up()  # the new service answers
                    assert hung is not None and hung.ok, hung
                    await eventually(lambda: not hub.calls.mic_open, what="the hub hung up")
                    ended = await eventually(lambda: (c := store.calls.get(call.id)) and c.ended
                                             and c, what="ended in the station database")
                    assert ended.reason == "hangup" and "incomplete" in (ended.recording_note or "")
                    assert sf.info(call.recording).duration == info.duration  # not written again
                finally:
                    store.close()
            finally:
                line.close()
                client.close()
    finally:
        station.terminate()
        station.wait(10)
