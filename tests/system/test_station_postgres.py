"""The station service on PostgreSQL, over a real Mosquitto: it makes its tables in a new
database, a hub's press is stored and acknowledged, and a console reads it through a role
that may only SELECT."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.store.db import Dsn
from console.station.store.reader import StationReader
from console.station.trust.broker import Mosquitto
from drivers.gpio.sim import SimPins
from drivers.speaker.sim import LogSpeaker
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from tests.conftest import REPO, eventually
from tests.support.postgres import READER, Databases


async def test_a_press_is_stored_in_postgresql_and_acknowledged(
        tmp_path: Path, broker: Mosquitto, pg_databases: Databases,
        hub_cfg: Callable[..., HubConfig]) -> None:
    at = pg_databases.fresh(empty=True)
    assert isinstance(at.location, Dsn) and isinstance(at.readonly, Dsn)
    name = at.location.text.split("dbname=")[1].split()[0]
    # as docs/county.md has the DBA do: what the station makes, the consoles may read
    pg_databases.cluster.sql(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES "
                             f"TO {READER}", db=name)
    cfg = StationConfig.model_validate({
        "database": str(tmp_path / "unused.db"), "broker": {"port": broker.port},
        "homes_file": str(REPO / "config/homes.yaml"), "offline_after_s": 5,
        "store": {"engine": "postgresql", "dsn": at.location.text,
                  "readonly_dsn": at.readonly.text}})
    try:
        async with StationService(cfg) as station, HubService(hub_cfg()) as hub:
            await eventually(lambda: hub.link.connected, what="hub connected")
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            alarm = (await eventually(station.store.open_alarms, what="alarm stored"))[0]
            assert (alarm.hub, alarm.kind, alarm.location) == ("h001", "panic", "卧室床头")
            assert isinstance(hub.speaker, LogSpeaker)
            await eventually(lambda: "station_has_it" in [k for _, k, _ in hub.speaker.heard],
                             what="the station's ack, after its commit")
            assert hub.store.pending_count() == 0

            console = StationReader.open(cfg.readonly_location)
            seen = console.alarm(alarm.id)
            assert seen is not None and seen.elder is not None and seen.elder.name == "王秀英"
            console.close()
        assert not (tmp_path / "unused.db").exists()
        with psycopg.connect(at.readonly.text, autocommit=True) as c,  \
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            c.execute("UPDATE alarms SET state = 'resolved'")  # not even in a read-write session
    finally:
        pg_databases.drop(at)
