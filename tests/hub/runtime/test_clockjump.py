"""A stepped wall clock (NTP on a Pi without a real-time clock, a hand-set clock) must not
stretch or shrink the hub's timers: the fall question still lasts 30 s, escalation still
comes after escalate_s. tests/system/faults/ steps a real hub's clock with libfaketime."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from hub.common.events import AlarmState
from hub.rules.actions import SendAlarm
from hub.runtime.clockjump import JumpDetector
from hub.runtime.supervision import Supervisor
from tests.conftest import eventually
from tests.support.home import Home
from tests.support.rules import FALL, at, engine


def test_a_step_is_seen_once_and_jitter_is_not() -> None:
    d = JumpDetector(wall=1000.0, mono=5.0)
    assert d.check(1010.5, 15.0) == 0.0  # half a second of scheduling jitter
    assert d.check(1010.0 - 3600, 15.0) == pytest.approx(-3600.0)
    assert d.check(1011.0 - 3600, 16.0) == 0.0  # the new offset holds
    assert d.check(1012.0, 17.0) == pytest.approx(3600.0)
    assert d.total == pytest.approx(0.0)


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
def test_the_fall_question_lasts_30_s_across_a_step(step: float) -> None:
    e = engine()
    _, held = e.handle(FALL, at("10:31"))
    e.clock_jumped(step)  # 10 s later the clock is set an hour back (or on)
    assert e.tick(at("10:31:20") + step) == []
    assert e.tick(at("10:31:30") + step) == [SendAlarm(held.event.id, "fall")]  # type: ignore[union-attr]


def test_a_forward_step_past_the_check_in_deadline_fires_it() -> None:
    e = engine(start="09:00")
    e.clock_jumped(2 * 3600)  # the clock was two hours slow: it is really past 10:00
    assert any(getattr(a, "event", None) for a in e.tick(at("11:00")))


def test_sensor_silence_is_measured_in_real_time() -> None:
    s = Supervisor()
    s.watch("door", 3600, now=1000.0)
    s.clock_jumped(7200.0)
    assert s.due(1000.0 + 7200 + 60) == []  # a minute of real silence, not two hours


async def test_a_step_forward_does_not_escalate_a_fresh_call(home: Home,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    await home.do("press")
    real = time.time
    monkeypatch.setattr("hub.runtime.service.time.time", lambda: real() + 3600)
    home.hub.alarms.escalate()
    assert "still_trying" not in home.heard()
    monkeypatch.setattr("hub.runtime.service.time.time", lambda: real() + 3600 + 31)
    monkeypatch.setattr("hub.runtime.service.time.monotonic", lambda m=time.monotonic: m() + 31)
    home.hub.alarms.escalate()
    assert home.heard()[-1] == "still_trying"  # 31 s of real time did pass


def step_clock(monkeypatch: pytest.MonkeyPatch, step: float) -> Callable[[], float]:
    """Step the hub's wall clock (not its monotonic clock), as NTP does."""
    real = time.time
    monkeypatch.setattr("hub.runtime.service.time.time", lambda: real() + step)
    monkeypatch.setattr("hub.runtime.store.time.time", lambda: real() + step)
    return lambda: real() + step


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_hold_across_a_step_keeps_its_own_call_and_cancels_the_earlier_one(
        home: Home, monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    home.hub.press("bedside", time.time())  # a call
    home.hub.press("cord", time.time())  # joins it
    home.hub.press("bedside", time.time())  # … and the bedside button goes down again
    now = step_clock(monkeypatch, step)
    home.hub.hold("bedside", now())  # NTP stepped the clock while it was held down
    assert "panic" not in home.alarms(), "the hold cancelled the call made before it"
    home.hub.press("cord", now())
    assert "panic" in home.alarms()
    home.hub.hold("cord", now())
    assert "panic" in home.alarms(), "a hold never cancels the call its own press made"


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_fall_released_after_a_step_in_its_window_can_still_be_cancelled(
        home: Home, monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    await home.do("fall")
    await eventually(lambda: home.alarms().get("fall") is AlarmState.RAISED, what="held fall")
    now = step_clock(monkeypatch, step)
    home.hub._do(home.hub.engine.tick(home.hub.clock.now() + 31))  # the 30 s run out: sent
    assert home.alarms().get("fall") is AlarmState.SENT
    home.hub.press("cancel", now())
    assert "fall" not in home.alarms(), "the cancel button did not cancel the fall just sent"


@pytest.mark.parametrize("step", [-3600.0, 3600.0])
async def test_a_hold_across_a_step_never_cancels_its_own_call(
        home: Home, monkeypatch: pytest.MonkeyPatch, step: float) -> None:
    home.hub.press("bedside", time.time())  # a call …
    now = step_clock(monkeypatch, step)
    home.hub.hold("bedside", now())  # … held down while NTP steps the clock
    assert "panic" in home.alarms()
