"""Tests that run the parts together (broker, station, hubs, console, the demo, real processes):
marked ``system``, so a quick run can leave them out with ``pytest -m "not system"``."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.system)
