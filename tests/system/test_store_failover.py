"""PostgreSQL primary with a synchronous streaming replica: the primary is killed while a hub
keeps raising alarms, the replica is promoted, and the station's store finds it (a DSN with
both hosts, target_session_attrs=read-write). No alarm the station acknowledged is lost: it
acknowledges after its commit, and a commit waits for the replica, even one fallen behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.db import Dsn
from console.station.store.station import StationStore
from console.station.trust.broker import Mosquitto
from drivers.gpio.sim import SimPins
from hub.cli.doctor.report import Status
from hub.cli.doctor.store import postgresql
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import REPO, eventually
from tests.support.postgres import AlarmingHub, PgCluster, both

BEFORE, AFTER = 30, 20  # alarms acknowledged before the kill, and after it


def test_promoting_the_replica_loses_no_acknowledged_alarm(
        pg_pair: tuple[PgCluster, PgCluster]) -> None:
    primary, standby = pg_pair
    dsn = both(primary, standby)
    doctor = {f.check: f for f in postgresql(StationConfig.model_validate(
        {"store": {"engine": "postgresql", "dsn": dsn.text}}))}
    assert doctor["replica"].status is Status.OK, doctor["replica"]
    assert doctor["replica"].found == "streaming to replica1; commits wait for replica1"
    hub = AlarmingHub(dsn)
    hub.start()
    try:
        hub.until(BEFORE)
        # The replica falls behind (the primary's WAL sender frozen) just before the primary's
        # machine dies: an alarm committed only on the primary would be lost with it.
        # Synchronous replication holds the commit, so the hub was not acknowledged and sends
        # the alarm again.
        os.kill(primary.wal_sender(), signal.SIGSTOP)
        time.sleep(0.3)
        primary.kill()
        acked_by_primary = list(hub.acked)
        killed = time.monotonic()
        standby.promote()
        promoted = time.monotonic() - killed
        hub.until(len(acked_by_primary) + AFTER, timeout=60)
    finally:
        hub.finish()
    now = StationStore(Dsn(f"host=127.0.0.1 port={standby.port} dbname=anxin user=postgres"))
    lost = [a for a in acked_by_primary if now.alarm(a) is None]
    stored = {a.id for a in now.alarms_for_hub("h001", open_only=False)}
    print(f"\nfailover: {len(hub.acked)} alarms acknowledged, {len(acked_by_primary)} before the "
          f"kill; lost {len(lost)}, stored twice {now.count('alarms') - len(stored)}; promoted "
          f"in {promoted:.2f} s; the longest an alarm waited {max(hub.waited):.2f} s")
    assert lost == []
    assert hub.error is None
    assert hub.failures > 0  # the cut was seen, and got over
    assert len(hub.acked) >= len(acked_by_primary) + AFTER, "the store never found the new primary"
    assert stored == set(hub.acked) and now.count("alarms") == len(stored)
    now.close()


async def test_the_station_service_goes_on_on_the_promoted_replica(
        tmp_path: Path, broker: Mosquitto, pg_pair: tuple[PgCluster, PgCluster],
        hub_cfg: Callable[..., HubConfig]) -> None:
    """A hub's presses over a real Mosquitto, the station on PostgreSQL: the primary dies
    between two presses and the replica is promoted; the second press (pressed again, on the
    open alarm) is stored there and acknowledged (the hub sends it until it is), and the
    alarm the first raised is still there."""
    primary, standby = pg_pair
    cfg = StationConfig.model_validate({
        "database": str(tmp_path / "unused.db"), "broker": {"port": broker.port},
        "homes_file": str(REPO / "config/homes.yaml"), "offline_after_s": 5,
        "store": {"engine": "postgresql", "dsn": both(primary, standby).text}})
    async with StationService(cfg) as station, HubService(hub_cfg()) as hub:
        await eventually(lambda: hub.link.connected, what="hub connected")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        first = (await eventually(station.store.open_alarms, what="first alarm stored"))[0]
        await eventually(lambda: hub.store.pending_count() == 0, what="first alarm acknowledged")

        primary.kill()
        await asyncio.to_thread(standby.promote)
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        await eventually(lambda: (a := station.store.alarm(first.id)) and a.pressed == 1,
                         timeout=30, what="the second press stored on the promoted replica")
        await eventually(lambda: hub.store.pending_count() == 0, timeout=30,
                         what="the second press acknowledged")
    promoted = StationStore(Dsn(f"host=127.0.0.1 port={standby.port} dbname=anxin user=postgres"))
    again = promoted.alarm(first.id)
    assert again is not None and again.pressed == 1 and promoted.count("alarms") == 1
    promoted.close()
