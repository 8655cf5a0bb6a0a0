"""GPIO devices on gpiozero's mock pins: the same objects the hub drives on a Pi."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.gpio.button import PushButton
from drivers.gpio.power import PowerGood
from drivers.gpio.relay import Relay
from drivers.gpio.sim import SimPins
from drivers.gpio.siren import PATTERNS, STEP_S, Siren


@pytest.fixture
def pins() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()


def test_press_and_hold_are_told_apart(pins: MockFactory) -> None:
    seen: list[str] = []
    with PushButton(name="bedside", pin=17, pin_factory=pins, hold_s=0.2,
                    on_press=lambda n, _: seen.append(f"press {n}"),
                    on_hold=lambda n, _: seen.append(f"hold {n}")):
        SimPins(pins).click(17)
        SimPins(pins).hold(17, 0.4)
        time.sleep(0.05)
    assert seen == ["press bedside", "press bedside", "hold bedside"]


def test_siren_plays_temporal_three_and_silences(pins: MockFactory) -> None:
    siren = Siren(pin=5, pin_factory=pins)
    siren.sound("fire")
    start = time.monotonic()
    levels = []
    while time.monotonic() - start < 1.2:
        levels.append(bool(pins.pin(5).state))
        time.sleep(STEP_S / 4)
    assert any(levels) and not all(levels)  # it pulses: 0.5 s on, 0.5 s off
    assert siren.pattern == "fire"
    siren.silence()
    time.sleep(2 * STEP_S)
    assert not pins.pin(5).state and siren.pattern is None
    with pytest.raises(ValueError, match="unknown siren pattern"):
        siren.sound("disco")
    siren.close()


def test_siren_cadences_match_the_standards() -> None:
    t3 = PATTERNS["fire"]
    assert len(t3) * STEP_S == pytest.approx(4.0) and sum(t3) * STEP_S == pytest.approx(1.5)
    t4 = PATTERNS["co"]
    assert sum(t4) == 4 and len(t4) * STEP_S == pytest.approx(5.8)


def test_relay_respects_active_low_boards(pins: MockFactory) -> None:
    r = Relay(name="gas_valve", pin=6, pin_factory=pins, active_high=False)
    assert not r.energised and pins.pin(6).state  # active-low: released is high
    r.set(True)
    assert r.energised and not pins.pin(6).state
    r.close()


def test_mains_changes_are_reported_with_their_time(pins: MockFactory) -> None:
    sim = SimPins(pins)
    sim.drive(4, high=True)
    seen: list[tuple[bool, float]] = []
    pg = PowerGood(pin=4, pin_factory=pins, on_change=lambda ok, ts: seen.append((ok, ts)))
    assert pg.ok
    before = time.time()
    sim.drive(4, high=False)
    sim.drive(4, high=True)
    assert [ok for ok, _ in seen] == [False, True] and seen[0][1] >= before
    pg.close()
