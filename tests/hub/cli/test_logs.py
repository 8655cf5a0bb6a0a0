"""The services' logs as people read them: each line with its date, its time and its zone, in the
county's zone (hub.yaml's or county.yaml's ``timezone``), never the machine's zone without a date
(``02:27:49.123 INFO …``, as station.log and hub.log were)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from hub.cli import main as cli
from tests.conftest import REPO

LINE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}[+-]\d{4}) INFO anxin\.test: up")


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``anxin ARGS`` with a service that logs one line and returns, and logging as a service
    starts with it: no handler yet (pytest's are taken off meanwhile)."""
    monkeypatch.setattr(cli, "_serve", lambda _: logging.getLogger("anxin.test").info("up"))

    def run(*argv: str) -> int:
        root = logging.getLogger()
        saved, level = root.handlers[:], root.level
        root.handlers.clear()
        try:
            return cli.main(list(argv))
        finally:
            for h in root.handlers:
                h.close()
            root.handlers[:] = saved
            root.setLevel(level)
    return run


def logged(log: Path, zone: str) -> datetime:
    """The time of the service's line, checked to be now in ``zone``."""
    line = log.read_text(encoding="utf-8").splitlines()[-1]
    m = LINE.fullmatch(line)
    assert m, line
    at = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S.%f%z")
    assert at.utcoffset() == datetime.now(ZoneInfo(zone)).utcoffset()
    assert abs(at.timestamp() - time.time()) < 10
    return at


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("zone", ["America/New_York", None])  # None: hub.yaml does not say
def test_the_hub_log_is_dated_in_its_zone(tmp_path: Path, service: Callable[..., int],
                                          zone: str | None) -> None:
    hub = write(tmp_path / "hub.yaml", {
        "hub_id": "h001", "data_dir": str(tmp_path / "data"), "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}], **({"timezone": zone} if zone else {})})
    assert service("--log-file", str(tmp_path / "hub.log"), "hub", "--config", str(hub)) == 0
    logged(tmp_path / "hub.log", zone or "Asia/Shanghai")


def test_the_station_log_is_dated_in_the_county_zone(tmp_path: Path,
                                                     service: Callable[..., int]) -> None:
    county = yaml.safe_load((REPO / "config/county.yaml").read_text(encoding="utf-8"))
    station = write(tmp_path / "station.yaml", {
        "database": str(tmp_path / "station.db"),
        "county_file": str(write(tmp_path / "county.yaml", {**county, "timezone": "Europe/Berlin"}))})
    assert service("--log-file", str(tmp_path / "station.log"), "station", "--config",
                   str(station)) == 0
    logged(tmp_path / "station.log", "Europe/Berlin")


def test_a_line_reads_as_the_issue_asks() -> None:
    """``2026-12-08 02:27:49.123+0800``: 2026-12-07 18:27:49.123 UTC in Asia/Shanghai."""
    from hub.cli.logs import CountyTime

    record = logging.LogRecord("anxin.x", logging.WARNING, __file__, 1, "hello", None, None)
    record.created, record.msecs = 1796668069.123, 123.0
    assert CountyTime(ZoneInfo("Asia/Shanghai")).format(record) == \
        "2026-12-08 02:27:49.123+0800 WARNING anxin.x: hello"
