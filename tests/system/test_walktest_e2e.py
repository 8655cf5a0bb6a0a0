"""`anxin walktest` end to end: a real Mosquitto, `anxin station` and a simulated `anxin hub`
as their own processes, and `anxin walktest` run as the installer would, its prompts read and
each device worked through `anxin sim`'s verbs. One device is never worked: it must be
reported "not seen", and `anxin walktest --retry` then walks it alone. Nothing of it may
become an alarm, at the hub or at the station."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from console.station.store.reader import StationReader
from console.station.trust.broker import Mosquitto
from hub.cli.demo import ANXIN, demo_homes, demo_hub, demo_station, spawn, wait_for, write_yaml
from hub.common import linejson
from hub.common.events import WALKTEST
from hub.runtime.config import load_hub_config
from hub.tools.walktest.plan import plan
from hub.tools.words import Words

NEVER = ("front_door", "door")  # the installer forgets the front door
SIM_VERBS: dict[tuple[str, str], list[str]] = {  # what the installer does, as `anxin sim` verbs
    ("bedside", "button"): ["press bedside"],
    ("cord", "cord"): ["cord"],
    ("cancel", "cancel"): ["cancel"],
    ("pendant", "button"): ["ble-button pendant press"],
    # a detector's test button: on while held, then clear again
    ("kitchen_smoke", "smoke"): ["smoke kitchen_smoke", "smoke-clear kitchen_smoke"],
    ("kitchen_gas", "gas"): ["gas kitchen_gas", "gas-clear kitchen_gas"],
    ("bath_leak", "leak"): ["leak bath_leak", "leak-clear bath_leak"],
    ("radar", "presence"): ["walk-in"],
    ("radar", "fall"): ["fall", "getup"],
    ("mains", "mains-off"): ["mains-fail"],
    ("mains", "mains-on"): ["mains-ok"],
    NEVER: ["door-open front_door", "door-close front_door"],  # at last, on the retry
}
ASKED = re.compile(r"^\[(\d+)/(\d+)\] ")


def walk_test(hub_yaml: Path, *args: str, sim: Path, heard: str, walked: list[tuple[str, str]],
              never: tuple[str, str] | None = None) -> tuple[int, str]:
    """Run `anxin walktest` as the installer, who does what each step asks (through `anxin
    sim`'s verbs) but for ``never``, and answers the speaker's question: its exit code and
    what it printed. ``walked``: the checks it walks, in order; each one asked is put there."""
    todo = list(walked)
    walked.clear()
    walk = subprocess.Popen([*ANXIN, "walktest", "--config", str(hub_yaml), "--installer", "王工",
                             "--timeout-s", "2", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert walk.stdin and walk.stdout
    output = []
    for line in walk.stdout:
        output.append(line)
        if m := ASKED.match(line):
            assert int(m[2]) == len(todo), line
            walked.append(key := todo[int(m[1]) - 1])
            for verb in SIM_VERBS.get(key, []) if key != never else []:
                linejson.call(sim, verb)
        elif heard in line:
            walk.stdin.write("y\n")
            walk.stdin.flush()
    rc = walk.wait(30)
    return rc, "".join(output) + (walk.stderr.read() if walk.stderr else "")


def test_walk_test_with_simulated_devices_end_to_end(tmp_path: Path, broker: Mosquitto) -> None:
    station_dir, hub_dir = tmp_path / "station", tmp_path / "hubs" / "h001"
    write_yaml(station_dir / "homes.yaml", {"homes": demo_homes(1)})
    station_yaml = write_yaml(station_dir / "station.yaml", demo_station(broker.port))
    hub_yaml = write_yaml(hub_dir / "hub.yaml", demo_hub("h001", 0, broker.port))
    procs = [spawn(["station", "--config", str(station_yaml)], station_dir / "station.log")]
    try:
        wait_for([station_dir / "station.db-wal"], procs, 15)
        procs.append(spawn(["hub", "--config", str(hub_yaml)], hub_dir / "hub.log"))
        wait_for([hub_dir / "control.sock", hub_dir / "sim.sock"], procs, 15)
        assert (hub_dir / "control.sock").stat().st_mode & 0o777 == 0o660
        sim = hub_dir / "sim.sock"
        deadline = time.monotonic() + 10
        while not linejson.call(sim, "state")["connected"]:
            assert time.monotonic() < deadline, "the hub did not reach the broker"
            time.sleep(0.05)

        t0 = time.monotonic()
        asked = [c.key for c in plan(load_hub_config(hub_yaml), Words())]
        rc, text = walk_test(hub_yaml, sim=sim, heard="听到了吗？", walked=asked, never=NEVER)  # zh_CN
        took = time.monotonic() - t0
        assert rc == 1, text  # one device not seen
        print(f"walk test of {len(asked)} checks took {took:.1f} s")
        assert "\n[7/15] 门磁（门厅）：开门再关上\n" in text
        assert "\n      -> 未收到：2 秒内没有收到\n" in text
        assert "结果：未通过（通过 14，未收到 1）" in text
        assert "修好后只重测没通过的项：anxin walktest --retry" in text

        # every device of hub.yaml was asked for, in the plan's order
        assert asked[:4] == [("bedside", "button"), ("cord", "cord"), ("cancel", "cancel"),
                             ("pendant", "button")]
        assert set(asked) == {*SIM_VERBS, ("hub", "speaker"), ("hub", "microphone"),
                              ("hub", "station")}

        # the report: printed, saved as text and JSON; every device passed but the forgotten one
        [saved] = (hub_dir / "commissioning").glob("walktest-h001-*.json")
        report = json.loads(saved.read_text(encoding="utf-8"))
        assert saved.with_suffix(".txt").read_text(encoding="utf-8") in text
        status = {(c["device"], c["check"]): c["status"] for c in report["checks"]}
        assert status.pop(NEVER) == "not seen"
        assert set(status.values()) == {"passed"}, status
        assert report["result"] == "FAIL" and report["installer"] == "王工"
        assert report["hub"] == "h001" and report["version"]
        smoke = next(c for c in report["checks"] if c["device"] == "kitchen_smoke")
        assert (smoke["rssi"], smoke["battery"]) == (-60, 90)  # what the simulated sensor sends
        assert 0 < report["station_rtt_ms"] < 2000

        # the station has every test as a walk-test event, the summary, and not one alarm
        store = StationReader.open(station_dir / "station.db")
        try:
            deadline = time.monotonic() + 10
            while (home := store.home("h001")) is None or home.walktest_until is not None:
                assert time.monotonic() < deadline, "the station never saw the walk test end"
                time.sleep(0.05)
            tests = store.walktests("h001")
            seen = {(w.source, w.kind) for w in tests}
            assert {("bedside", "button.press"), ("cancel", "cancel.press"),
                    ("pendant", "button.press"), ("kitchen_smoke", "smoke.on"),
                    ("kitchen_gas", "gas.on"), ("bath_leak", "leak.on"), ("radar", "presence.on"),
                    ("radar", "fall.detected"), ("mains", "mains.fail"), ("mains", "mains.ok"),
                    ("hub", "walktest.start"), ("hub", "walktest.ping"), ("hub", "walktest.end"),
                    ("hub", "walktest.report")} <= seen
            assert not any(w.source == "front_door" for w in tests)
            assert home.walktest_last and home.walktest_last.kind == "walktest.report"
            assert home.walktest_last.data["result"] == "FAIL"
            assert home.walktest_last.data["not_passed"] == [
                {"device": "front_door", "check": "door", "where": "门厅", "status": "not seen"}]
            assert store.count("alarms") == 0 and store.open_alarms() == []
            payloads = [json.loads(p) for (p,) in store._db.execute("SELECT payload FROM events")]
            assert {p["alarm"]["kind"] for p in payloads if p.get("alarm")} == {WALKTEST}
            actions = [e.action for e in store.audit_entries(target="h001")]
            assert [a for a in actions if a.startswith("walktest.")] == [
                "walktest.start", "walktest.report", "walktest.end"]
        finally:
            store.close()

        # and the hub raised none, nor shut the valve or left the siren on
        state = linejson.call(sim, "state")
        assert state["open_alarms"] == [] and state["relays"] == {"gas_valve": False}
        assert state["siren"] is None
        heard = [p["key"] for p in linejson.call(sim, "prompts")]
        assert heard[0] == "walktest_on" and heard[-1] == "walktest_off"
        assert "walktest_seen" in heard and "walktest_speaker" in heard
        assert not {"call_sent", "smoke_warning", "gas_advice", "fall_question"} & set(heard)

        # the door's battery replaced: `--retry` walks the door alone, in English if asked
        again = [NEVER]
        rc, text = walk_test(hub_yaml, "--retry", "--lang", "en", sim=sim, heard="Did you hear it?",
                             walked=again)
        assert rc == 0 and again == [NEVER], text
        assert "[1/1] door sensor in 门厅: open the door, then close it" in text
        assert "result: PASS (15 passed)" in text
        assert re.search(r" 7  front_door\s+door\s+passed \(attempt 2\)", text)
        assert re.search(r" 1  bedside\s+button\s+passed \(attempt 1\)", text)
        [_, retry] = sorted((hub_dir / "commissioning").glob("walktest-h001-*.json"))
        data = json.loads(retry.read_text(encoding="utf-8"))
        assert data["result"] == "PASS" and data["retry_of"] == saved.name
        rc, text = walk_test(hub_yaml, "--retry", sim=sim, heard="", walked=[])  # all passed now
        assert rc == 0 and text.startswith(f"{retry.name} 的每一项都已通过，没有要重测的。"), text
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
