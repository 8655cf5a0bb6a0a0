"""A driver's thread (drivers/threads.py): one that ends by itself tells whoever runs the driver,
with why, even if it is asked only after the death; one asked to stop has not died."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from drivers.threads import DriverThread


def wait(check: Callable[[], Any]) -> None:
    event = threading.Event()
    for _ in range(500):
        if check():
            return
        event.wait(0.01)
    raise AssertionError("timed out")


def test_a_thread_that_ends_by_itself_tells_why(caplog: pytest.LogCaptureFixture) -> None:
    def bug() -> None:
        raise RuntimeError("a bug outside any round")

    told: list[tuple[str, str]] = []
    thread = DriverThread("radar /dev/ttyAMA0", bug, on_died=lambda *a: told.append(a))
    thread.start()
    thread.join(5)
    assert told == [("radar /dev/ttyAMA0", "RuntimeError: a bug outside any round")]
    assert thread.died == "RuntimeError: a bug outside any round"
    assert any(r.levelname == "CRITICAL" and r.exc_info for r in caplog.records)


def test_a_thread_that_returns_unasked_has_died_and_one_stopped_has_not() -> None:
    stop = threading.Event()
    told: list[tuple[str, str]] = []
    unasked = DriverThread("speaker", lambda: None, stopping=stop.is_set, on_died=lambda *a: told.append(a))
    unasked.start()
    unasked.join(5)
    assert told == [("speaker", "it returned")]
    stop.set()
    stopped = DriverThread("radar x", lambda: None, stopping=stop.is_set, on_died=lambda *a: told.append(a))
    stopped.start()
    stopped.join(5)
    assert stopped.died is None and len(told) == 1


def test_a_death_before_anyone_listens_is_told_when_someone_does() -> None:
    """The hub builds the speaker first and listens to its thread only when it starts."""
    def bug() -> None:
        raise KeyboardInterrupt  # no Exception: nothing in the thread catches it

    thread = DriverThread("speaker", bug)
    thread.start()
    thread.join(5)
    told: list[tuple[str, str]] = []
    thread.on_died = lambda *a: told.append(a)
    assert told == [("speaker", "KeyboardInterrupt: ")]
