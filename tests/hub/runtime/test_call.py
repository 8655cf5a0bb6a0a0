"""The hub's call state machine on a fake clock: announce, then open; every way a call ends;
one call at a time; the microphone is open only between OpenMic and CloseMic."""

from __future__ import annotations

import pytest

from hub.rules.feedback import Say
from hub.runtime.call import (
    ANNOUNCE_TONE,
    Announce,
    CallMachine,
    CloseMic,
    Effect,
    EndReason,
    Limits,
    OpenMic,
    Report,
)

LIMITS = Limits(silence_s=20, max_s=600, announce_s=15)


def opened(m: CallMachine, call: str = "c1", *, alarm: str | None = "a1", t: float = 0.0) -> None:
    m.start(call, alarm=alarm, visit=None, announce=False, now=t)
    m.announced(call, t + 3)


def mic_balance(effects: list[Effect]) -> int:
    return sum(isinstance(e, OpenMic) for e in effects) - sum(isinstance(e, CloseMic) for e in effects)


def test_an_alarm_call_says_officer_on_line_then_opens() -> None:
    m = CallMachine(LIMITS)
    assert m.start("c1", alarm="a1", visit=None, announce=False, now=0) == [
        Announce("c1", None, "officer_on_line")]
    assert not m.mic_open and not m.packet("c1", 1)  # nothing is heard while announcing
    assert m.announced("c1", 3) == [OpenMic("c1"), Report("call.open", "c1", "a1", None)]
    assert m.mic_open and m.packet("c1", 4)


def test_a_visit_rings_with_the_chime_and_visit_call() -> None:
    m = CallMachine(LIMITS)
    assert m.start("v1", alarm=None, visit="visit-7", announce=True, now=0) == [
        Announce("v1", ANNOUNCE_TONE, "visit_call")]
    assert m.announced("v1", 4)[1] == Report("call.open", "v1", None, "visit-7")


def test_hangup_closes_the_mic_reports_and_tells_the_elder() -> None:
    m = CallMachine(LIMITS)
    opened(m)
    assert m.end("c1", EndReason.HANGUP, 65.5) == [
        CloseMic("c1"), Report("call.end", "c1", "a1", None, EndReason.HANGUP, seconds=62.5),
        Say("call_ended")]
    assert m.call is None and not m.mic_open
    assert m.end("c1", EndReason.HANGUP, 66) == []  # a repeated end


@pytest.mark.parametrize("heard_until, now, reason", [
    (10.0, 30.0, EndReason.TIMEOUT),  # nothing from the station for silence_s
    (600.0, 603.0, EndReason.MAX_LENGTH),
])
def test_timeouts(heard_until: float, now: float, reason: EndReason) -> None:
    m = CallMachine(LIMITS)
    opened(m)
    t = 3.0
    while t < heard_until:  # packets every second until then
        assert m.packet("c1", t)
        t += 1
    deadline = m.next_deadline()
    assert deadline is not None and deadline <= now
    assert m.tick(deadline - 0.01) == []
    out = m.tick(now)
    assert [type(e) for e in out] == [CloseMic, Report, Say] and out[1].reason is reason  # type: ignore[union-attr]


def test_an_announcement_that_never_finishes_ends_the_call_unopened() -> None:
    m = CallMachine(LIMITS)
    m.start("c1", alarm=None, visit="v", announce=True, now=0)
    assert m.next_deadline() == 15
    assert m.tick(15) == [Report("call.end", "c1", None, "v", EndReason.NO_AUDIO)]
    assert m.announced("c1", 16) == []  # too late: it never opens


def test_a_second_call_is_refused_busy_and_the_first_goes_on() -> None:
    m = CallMachine(LIMITS)
    opened(m)
    assert m.start("c2", alarm=None, visit="v", announce=True, now=5) == [
        Report("call.end", "c2", None, "v", EndReason.HUB_BUSY)]
    assert m.mic_open and m.call and m.call.id == "c1"
    assert not m.packet("c2", 6)  # the refused call's packets are foreign
    assert m.end("c2", EndReason.HANGUP, 7) == []  # and its hangup ends nothing


def test_repeated_starts_are_ignored_even_after_the_end() -> None:
    """QoS 1 may deliver the start twice: it must not ring again, nor reopen an ended call."""
    m = CallMachine(LIMITS)
    opened(m)
    assert m.start("c1", alarm="a1", visit=None, announce=False, now=4) == []
    m.end("c1", EndReason.HANGUP, 5)
    assert m.start("c1", alarm="a1", visit=None, announce=False, now=6) == []
    assert m.call is None


def test_the_mic_is_open_only_between_open_and_close_whatever_happens() -> None:
    """Random-ish sequences of every input: the balance of OpenMic and CloseMic is 0 or 1,
    and 1 exactly while the machine says the mic is open."""
    import random

    rng = random.Random(7)
    m = CallMachine(LIMITS)
    balance, t = 0, 0.0
    for _ in range(5000):
        t += rng.choice([0.1, 1, 5, 30])
        call = rng.choice(["c1", "c2", "c3"])
        match rng.randrange(5):
            case 0:
                out = m.start(call, alarm=None, visit="v", announce=rng.random() < 0.5, now=t)
            case 1:
                out = m.announced(call, t)
            case 2:
                m.packet(call, t)
                out = []
            case 3:
                out = m.end(rng.choice([call, None]), rng.choice(list(EndReason)), t)
            case _:
                out = m.tick(t)
        balance += mic_balance(out)
        assert balance in (0, 1) and (balance == 1) == m.mic_open
