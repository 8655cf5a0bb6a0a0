"""What the elder hears about their call: the pure lifecycle feedback of hub/rules/feedback.py.

Everything the elder does about a call is answered (issue 17, 12): a press again says where
the call stands, a cancel gesture that cancels nothing says why, and a long wait for an
officer is broken by ``please_wait`` at a set interval, on a fake monotonic clock.
"""

from __future__ import annotations

import pytest

from hub.common.events import AlarmState
from hub.rules.feedback import Reassurance, Say, Standing, cancel_gesture, pressed_again, reassured

S = AlarmState
T0 = 1_000.0


def call(state: AlarmState, raised: float, kind: str = "panic", id: str = "a1") -> Standing:
    return Standing(id, kind, state, raised)


@pytest.mark.parametrize(("state", "said"), [
    (S.SENT, ["still_trying"]),  # not at the station yet
    (S.DELIVERED, ["pressed_again"]),  # 服务站已收到，正在为您联系
    (S.CLAIMED, ["officer_claimed"]),
    (S.IN_CALL, []),  # the officer hears the elder; a prompt would talk over them
])
def test_a_press_again_is_answered_by_where_the_call_stands(state: AlarmState, said: list[str]) -> None:
    assert pressed_again(state) == [Say(p) for p in said]


@pytest.mark.parametrize(("alarms", "victims", "said"), [
    # inside the window, before the gesture's press: cancelled, nothing to explain
    ([call(S.DELIVERED, T0 + 30)], ["a1"], []),
    ([call(S.SENT, T0 + 1)], ["a1"], []),
    # after the window: the call stands, and the elder is told why
    ([call(S.DELIVERED, T0 - 1)], [], ["cannot_cancel"]),
    ([call(S.SENT, T0 - 600)], [], ["cannot_cancel"]),
    # a hazard is never the elder's to cancel: the station will call
    ([call(S.DELIVERED, T0 + 30, kind="smoke")], [], ["cannot_cancel"]),
    # taken by an officer
    ([call(S.CLAIMED, T0 + 30)], [], ["cancel_too_late"]),
    ([call(S.IN_CALL, T0 - 600), call(S.DELIVERED, T0 - 600, id="a2")], [], ["cancel_too_late"]),
    # raised by the gesture's own press (a first press held down): a call, not mentioned
    ([call(S.SENT, T0 + 57)], [], []),
    # a technical alarm is not the elder's business
    ([call(S.DELIVERED, T0 - 600, kind="battery_low")], [], []),
    ([], [], []),
])
def test_a_cancel_gesture_cancels_or_says_why_not(alarms: list[Standing], victims: list[str],
                                                   said: list[str]) -> None:
    # the gesture at T0+60 (a 60 s window), its press went down at T0+57
    assert cancel_gesture(alarms, at=T0 + 60, pressed=T0 + 57, window_s=60) == (
        victims, [Say(p) for p in said])


def test_only_life_alarms_are_reassured() -> None:
    assert [k for k in ("panic", "fall", "smoke", "inactivity", "wandering", "battery_low")
            if reassured(k)] == ["panic", "fall", "smoke"]


def run(r: Reassurance, until: float, start: float = T0) -> list[float]:
    """Wake exactly at next_deadline(), as the hub's loop does; when please_wait was said."""
    said = []
    while (due := r.next_deadline()) is not None and due <= until:
        assert due >= start
        if r.tick(due):
            said.append(due - start)
    return said


def test_a_waiting_call_is_reassured_every_interval_until_taken() -> None:
    r = Reassurance(60)
    assert r.next_deadline() is None and r.tick(T0) == []
    r.waiting("a1", T0)  # delivered: the elder has just heard station_has_it
    assert r.tick(T0 + 59.9) == []
    assert run(r, T0 + 200) == [60, 120, 180]
    r.done("a1")  # claimed
    assert r.next_deadline() is None and r.tick(T0 + 1000) == []


def test_whatever_the_elder_hears_about_the_call_restarts_the_interval() -> None:
    r = Reassurance(60)
    r.waiting("a1", T0)
    r.told(T0 + 50)  # a press again was answered
    assert run(r, T0 + 200) == [110, 170]


def test_several_waiting_calls_are_reassured_once_together() -> None:
    r = Reassurance(60)
    r.waiting("a1", T0)
    r.waiting("a2", T0 + 20)
    assert run(r, T0 + 150) == [80, 140]
    r.done("a1")
    assert r.next_deadline() == T0 + 200  # a2 still waits
    r.done("a2")
    assert r.next_deadline() is None


def test_a_late_wake_up_says_it_once_and_the_interval_runs_from_then() -> None:
    r = Reassurance(60)
    r.waiting("a1", T0)
    assert r.tick(T0 + 300) == [Say("please_wait")]
    assert r.tick(T0 + 301) == []
    assert r.next_deadline() == T0 + 360


def test_an_interval_of_zero_never_reassures() -> None:
    r = Reassurance(0)
    r.waiting("a1", T0)
    assert r.next_deadline() is None and r.tick(T0 + 10_000) == []
