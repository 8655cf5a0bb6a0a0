"""Faults while the homes send a steady stream of alarms and telemetry: the broker killed or
blocked, a hub or the station killed, the station back to a full backlog, the station's disk
full then freed, the wall clock stepped, rogue subscribers, poisoned requests. After each, one
line of the fault table; no alarm may be lost or shown twice.

``ANXIN_FAULTS_LONG=1`` runs the long variant (minutes per fault, the broker blocked for 3).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from tests.system.faults.fakeclock import WallClock
from tests.system.faults.harness import CONNECTED, KEEPALIVE_S, LOGGED, RETRY_S, Rig, integrity, read_hub
from tests.system.faults.harness import DURATIONS as D

pytestmark = pytest.mark.timeout(D.test_timeout_s)


def test_broker_kill9_and_restart(rig: Rig) -> None:
    with rig.traffic_running():
        rig.wait(D.settle_s)
        rig.kill9_broker()
        rig.wait(D.outage_s)
        rig.restart_broker()
        rig.wait(D.settle_s)
    rig.finish("broker-kill9", down=f"{D.outage_s:.0f}s")


def test_broker_blocked(rig: Rig) -> None:
    with rig.traffic_running():
        rig.wait(D.settle_s)
        rig.block_broker(D.block_s)
        rig.wait(D.settle_s)
    rig.finish("broker-sigstop", blocked=f"{D.block_s:.0f}s", keepalive=f"{KEEPALIVE_S}s")


def test_hub_kill9_mid_burst(rig: Rig) -> None:
    hub = rig.hubs["h001"]
    with rig.traffic_running() as traffic:
        rig.wait(D.settle_s)
        with traffic.burst("h001"):  # extra writers on top of the steady stream
            after = random.uniform(0.5, 1.5)
            rig.wait(after)
            hub.kill9()
        check = integrity(rig.hub_db("h001"))
        rig.wait(D.outage_s / 2)
        hub.start()
        rig.wait(D.settle_s)
    rig.finish("hub-kill9", killed_after=f"{after:.2f}s-of-burst", integrity=check)
    assert check == "ok", f"hub.db after kill -9: {check}"


def test_station_kill9_and_restart(rig: Rig) -> None:
    with rig.traffic_running():
        rig.wait(D.settle_s)
        rig.station.kill9()
        rig.wait(D.outage_s)
        rig.station.start()
        rig.wait(D.settle_s)
    rig.finish("station-kill9", down=f"{D.outage_s:.0f}s")


def test_poisoned_request(rig: Rig) -> None:
    """Requests whose console id no reply topic may carry: refused, and the station stays on
    the broker (before, one such request kept it off for good: nothing was acknowledged)."""
    with rig.traffic_running():
        rig.wait(D.settle_s)
        sent = rig.poison_requests()
        rig.wait(D.outage_s)
    refused = rig.station.count(r" rejected message on 'anxin/v1/station/request/poisoner'")
    dropped = rig.station.count(LOGGED["disconnects"].pattern)
    rig.finish("poisoned-request", sent=str(sent), refused=str(refused), station_drops=str(dropped))
    assert (refused, dropped) == (sent, 0), "the station did not refuse them all and stay on"


def test_station_restart_with_full_backlog(rig: Rig) -> None:
    with rig.traffic_running() as traffic:
        rig.wait(D.settle_s)
        rig.station.stop()
        waiting = rig.wait_backlog(D.backlog_alarms, D.backlog_telemetry, timeout=D.drain_timeout_s * 2)
        with traffic.paused("h003"):
            rig.station.start()
            rig.wait_until(lambda: rig.station.said(CONNECTED), 30, "the station connected")
            connected = time.monotonic()
            latency = rig.call_latency("h003")  # a new call while the backlog drains
        rig.wait_backlog_gone(waiting, since=connected)
        rig.wait(D.settle_s)
    rig.finish("station-backlog", new_call_during_drain=f"{latency:.2f}s")
    assert latency < 5, f"a call raised while the backlog drained took {latency:.1f} s"


def test_station_disk_full_then_freed(rig: Rig) -> None:
    """Nothing the station fails to store is acknowledged: the hubs send it again, and all of
    it arrives once there is space. The station lives through it, and knows when it can
    write again (what its consoles are told)."""
    with rig.traffic_running():
        rig.wait(D.settle_s)
        rig.fill_station_disk(D.outage_s)
        rig.wait(D.settle_s)
    rig.finish("station-disk-full", full=f"{D.outage_s:.0f}s")
    assert rig.station.said("cannot write its database") and \
        rig.station.said("can write its database again"), "the full disk, seen and then gone"


def test_clock_jump(make_rig: Callable[..., Rig], clock: WallClock) -> None:
    rig = make_rig(clock=clock)  # the first home, h001, runs on the faked clock
    with rig.traffic_running() as traffic:
        rig.wait(D.settle_s)
        # each step comes between two of h001's cycles (a step between a press and its hold is
        # test_hold_cancels_the_call_across_a_clock_step's); the other homes carry on meanwhile
        with traffic.paused("h001"):
            clock.step(3600)  # NTP steps the clock an hour forward …
        rig.wait(D.jump_s)
        with traffic.paused("h001"):
            clock.step(0)  # … and back
            latency = rig.call_latency("h001")
        rig.wait(D.settle_s)
    rig.finish("clock-jump", step="+1h,-1h", call_after_back=f"{latency:.2f}s")
    assert latency < 5, f"a call pressed after the clock went back took {latency:.1f} s to the station"


@pytest.mark.parametrize("step", [3600, -3600])
def test_hold_cancels_the_call_across_a_clock_step(make_rig: Callable[..., Rig], clock: WallClock,
                                                   step: int) -> None:
    """The elder presses, NTP steps the clock, the elder holds: the call is cancelled."""
    rig = make_rig(clock=clock, homes=1)
    call, _ = rig.press("h001")
    rig.wait_until(lambda: rig.at_station(call) is not None, 30, "the call at the station")
    clock.step(step)
    rig.sim("h001", "hold bedside")
    cancelled = rig.poll(lambda: rig.at_station(call) == "cancelled", 5)
    assert cancelled is not None, (
        f"a hold right after a {step:+d} s clock step did not cancel the call pressed just before "
        f"it ({call}): hub {read_hub(rig.hub_db('h001')).alarms[call]}, station {rig.at_station(call)}")


def test_rogue_subscribers(make_rig: Callable[..., Rig]) -> None:
    """Certificates from the station's CA (a stranger hub's, an unlisted console's, a real
    home's) subscribe to what the station hears, in shared groups and plainly, while the homes
    are busy. The station still gets every message at once: no lane ever has a gap, and a call
    is stored without waiting for its hub to send it again."""
    rig = make_rig(tls=True)
    rogues = ("h666", "console:rogue", "h002")
    with rig.rogues(rogues), rig.traffic_running() as traffic:
        rig.wait(D.settle_s)
        with traffic.paused("h003"):
            latencies = [rig.call_latency("h003") for _ in range(5)]
        rig.wait(D.settle_s)
    tally = rig.finish("rogue-subscribers", rogues=str(len(rogues)),
                       slowest_call=f"{max(latencies):.2f}s")
    assert tally.logged["gaps"] == 0, "the station missed messages: the rogues got them"
    assert max(latencies) < RETRY_S, f"calls waited for a resend: {latencies}"
