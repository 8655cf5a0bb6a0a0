"""The rig and faked-clock fixtures, and the fault table at the end of the session (quotable from CI logs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.system.faults.fakeclock import WallClock, find_libfaketime
from tests.system.faults.harness import RESULTS, Rig


@pytest.fixture
def make_rig(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Rig]]:
    """Start a rig (broker, station, homes) in the test's folder; stopped after the test."""
    rigs: list[Rig] = []

    def make(**kw: Any) -> Rig:
        rig = Rig(tmp_path, results=tmp_path_factory.getbasetemp() / "faults.txt", **kw).start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


@pytest.fixture
def clock(tmp_path: Path) -> WallClock:
    lib = find_libfaketime()
    if lib is None:
        pytest.skip("libfaketime is not installed (apt install faketime; .ci/setup does)")
    c = WallClock(lib, tmp_path / "faketime")
    c.check()
    return c


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RESULTS:
        terminalreporter.write_sep("=", "fault injection: alarms raised / stored / shown twice / lost")
        for line in RESULTS:
            terminalreporter.write_line(line)
