"""The whole hub with every simulated device: readings become events, alarms and outputs.

The radar is a real pty playing real frames, the BLE sensors send real (encrypted) adverts
into the simulated scanner, GPIO is gpiozero's mock pins. The uplink is the in-memory
broker: these tests are about the home, the end-to-end tests cover the station.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.common import wire
from hub.common.events import CANCEL_KIND, AlarmState
from hub.common.transport import MemoryBroker
from hub.runtime.senses import Senses
from hub.runtime.service import HubService
from hub.runtime.uplink import last_will
from hub.sim.home import SimHome
from tests.conftest import eventually
from tests.support.home import Home, home_config


def has(kinds: Callable[[], list[str]], kind: str) -> Callable[[], bool]:
    return lambda: kind in kinds()


async def test_smoke_sounds_the_fire_cadence_and_raises_a_life_alarm(home: Home) -> None:
    await home.do("smoke")
    await eventually(lambda: "smoke" in home.alarms(), what="smoke alarm")
    ev = next(e for e in home.events if e.kind == "smoke.on")
    assert ev.source == "kitchen_smoke" and ev.data == {"room": "厨房"}
    assert home.hub.hw.siren and home.hub.hw.siren.pattern == "fire"
    await home.do("smoke-clear")
    await eventually(has(home.kinds, "smoke.off"), what="smoke cleared")
    assert home.hub.hw.siren.pattern is None
    assert "smoke" in home.alarms()  # the alarm stays with the station until an officer closes it


async def test_gas_shuts_the_valve_and_tells_the_elder_what_to_do(home: Home) -> None:
    await home.do("gas")
    await eventually(lambda: "gas" in home.alarms(), what="gas alarm")
    assert home.hub.hw.relays["gas_valve"].energised
    assert "gas_advice" in home.heard()
    assert home.hub.hw.siren and home.hub.hw.siren.pattern == "co"
    await home.do("gas-clear")
    await eventually(has(home.kinds, "gas.off"), what="gas cleared")
    assert home.hub.hw.relays["gas_valve"].energised  # the valve stays shut until reset by hand


async def test_state_sensors_report_changes_only(home: Home) -> None:
    await home.do("door-open")
    await home.do("door-open")  # a repeat of the same state is not news
    await home.do("door-close")
    await home.do("leak")
    await eventually(lambda: "leak" in home.alarms(), what="leak alarm")
    door = [e for e in home.events if e.source == "front_door" and e.kind.startswith("door.")]
    assert [e.kind for e in door] == ["door.open", "door.close"]
    assert door[0].data == {"room": "门厅", "type": "door"}


async def test_radar_fall_and_presence_become_events(home: Home) -> None:
    await home.do("walk-in")
    await eventually(has(home.kinds, "presence.on"), what="presence from the radar")
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall alarm")
    fall = next(e for e in home.events if e.kind == "fall.detected")
    assert fall.source == "radar" and fall.data["room"] == "卧室"
    await home.do("getup")
    await eventually(has(home.kinds, "fall.cleared"), what="fall cleared")


async def test_radar_unplugged_is_a_technical_alarm_and_recovers(home: Home) -> None:
    await eventually(lambda: home.hub.hw.radar and home.hub.hw.radar.decoder.frames, what="radar talking")
    await home.do("radar-unplug")
    await eventually(has(home.kinds, "device.lost"), what="radar lost")
    assert home.alarms().get("sensor_silent") is AlarmState.SENT
    await home.do("radar-plug")
    await eventually(has(home.kinds, "device.found"), timeout=10, what="radar found again")
    await home.do("walk-in")
    await eventually(has(home.kinds, "presence.on"), what="readings again after the replug")


async def test_silent_sensor_and_low_battery_are_technical_alarms(home: Home) -> None:
    await home.do("sensor-silent front_door")
    await eventually(has(home.kinds, "device.silent"), timeout=5, what="door sensor silent")
    silent = next(e for e in home.events if e.kind == "device.silent")
    assert silent.source == "front_door" and silent.data["type"] == "door"
    assert silent.data["last_heard"] == pytest.approx(silent.ts - silent.data["silent_s"], abs=1)
    await home.do("sensor-resume front_door")
    await eventually(has(home.kinds, "device.back"), what="door sensor back")
    await home.do("battery-low bath_leak 8")
    await eventually(lambda: "battery_low" in home.alarms(), what="low battery alarm")
    low = next(e for e in home.events if e.kind == "battery.low")
    assert low.source == "bath_leak" and (low.data["percent"], low.data["type"]) == (8, "leak")
    # the alarms carry what caused them to the station (docs/events.md)
    sent = {m.alarm.kind: m for p in home.hub.store.pending()
            if (m := wire.decode_as(p.payload, wire.EventMsg)).alarm}
    assert sent["sensor_silent"].source == "front_door"
    assert sent["sensor_silent"].data["last_heard"] == silent.data["last_heard"]
    assert (sent["battery_low"].source, sent["battery_low"].data["percent"]) == ("bath_leak", 8)


async def test_a_fall_says_when_it_was_detected_and_when_it_was_sent(
        home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fall is held 30 s while the elder is asked: its time stays the detection's, and the
    message the station gets says when it went out."""
    await home.do("fall")
    await eventually(lambda: home.alarms().get("fall") is AlarmState.RAISED, what="held fall")
    detected = next(e for e in home.events if e.kind == "fall.detected").ts
    real_time, real_mono = time.time, time.monotonic
    monkeypatch.setattr("hub.runtime.service.time.time", lambda: real_time() + 31)  # 31 s later …
    monkeypatch.setattr("hub.runtime.service.time.monotonic", lambda: real_mono() + 31)
    home.hub._do(home.hub.engine.tick(home.hub.clock.now()))  # … nobody cancelled: sent
    assert home.alarms().get("fall") is AlarmState.SENT
    [fall] = [m for p in home.hub.store.pending()
              if (m := wire.decode_as(p.payload, wire.EventMsg)).alarm and m.alarm.kind == "fall"]
    assert fall.ts == detected
    assert fall.data["sent"] == pytest.approx(detected + 31, abs=1)


async def test_spoofed_plaintext_advert_for_an_encrypted_sensor_is_refused(home: Home) -> None:
    from drivers.ble.sim import SimSensor

    fake = SimSensor(mac="A4:C1:38:00:00:01", kind="smoke")  # no key: plaintext "smoke!"
    assert home.hub.hw.sim_ble
    home.hub.hw.sim_ble.inject(*fake.advert(True))
    await eventually(lambda: home.hub.ble.decoder.rejected, what="rejection counted")
    assert home.hub.ble.decoder.rejected[("A4:C1:38:00:00:01", "plaintext")] == 1
    await asyncio.sleep(0.1)
    assert "smoke.on" not in home.kinds() and "smoke" not in home.alarms()


async def test_a_smoke_test_packet_replayed_after_a_hub_restart_is_refused(tmp_path: Path) -> None:
    """The installer's smoke test (a low counter) is recorded by someone nearby; weeks later, and
    after the hub has restarted, it is sent again. hub.db remembers it: no smoke, no siren."""
    broker = MemoryBroker()
    cfg = home_config(tmp_path)
    mac = "A4:C1:38:00:00:01"

    def start() -> HubService:
        return HubService(cfg, transport=lambda c, _: broker.client(last_will(c.hub_id)))

    async with start() as hub, SimHome(hub) as sim:
        home = Home(hub, sim)
        detector = home.sim.sensors["kitchen_smoke"]
        await home.do("smoke")
        await eventually(lambda: "smoke" in home.alarms(), what="the installer's smoke test")
        walk_test = detector.sent[-1]
        assert detector.counter < 100
        await home.do("smoke-clear")
        detector.counter = 499  # weeks of adverts
        await home.do("battery-low kitchen_smoke 80")
        for alarm in hub.store.open_alarms():  # the station closed the test's alarm
            hub.store.advance(alarm.id, AlarmState.RESOLVED, time.time())
    async with start() as hub, SimHome(hub) as sim:  # the hub restarts (an update, a power cut)
        home = Home(hub, sim)
        assert home.sim.sensors["kitchen_smoke"].counter >= 500  # the detector counted on meanwhile
        assert hub.hw.sim_ble
        hub.hw.sim_ble.inject(*walk_test)
        await eventually(lambda: hub.ble.decoder.rejected[(mac, "replay")] == 1, what="the replay refused")
        await asyncio.sleep(0.1)
        assert "smoke.on" not in home.kinds() and "smoke" not in home.alarms()
        assert hub.hw.siren and hub.hw.siren.pattern is None
        await home.do("smoke")  # the detector itself is heard as ever
        await eventually(lambda: "smoke" in home.alarms(), what="a real smoke alarm")


async def test_mains_failure_is_reported_after_the_rules_delay(home: Home) -> None:
    await home.do("mains-fail")
    await eventually(has(home.kinds, "mains.fail"), what="mains failure seen")
    assert "mains_fail" not in home.alarms()  # a short cut is not worth a call
    home.hub._do(home.hub.engine.tick(time.time() + 601))
    assert "mains_fail" in home.alarms()
    await home.do("mains-ok")
    await eventually(has(home.kinds, "mains.ok"), what="mains back")


async def test_fall_is_asked_about_then_sent_when_nobody_cancels(home: Home) -> None:
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall pre-alarm")
    assert home.alarms()["fall"] is AlarmState.RAISED and "fall_question" in home.heard()
    assert not any(b'"alarm":{"kind":"fall"' in p.payload for p in home.hub.store.pending())
    home.hub._do(home.hub.engine.tick(time.time() + 31))
    assert home.alarms()["fall"] is AlarmState.SENT and home.heard()[-1] == "call_sent"
    assert any(b'"alarm":{"kind":"fall"' in p.payload for p in home.hub.store.pending())


async def test_fall_cancelled_by_the_elder_reaches_the_station_as_cancelled(home: Home) -> None:
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall pre-alarm")
    fall = home.hub.store.open_alarms()[0]
    await home.do("cancel")
    await eventually(lambda: "fall" not in home.alarms(), what="fall cancelled")
    assert home.heard()[-1] == "cancelled"
    sent = [p.payload for p in home.hub.store.pending()]
    alarm_at = next(i for i, p in enumerate(sent) if fall.id.encode() in p and b'"kind":"fall' in p)
    cancel_at = next(i for i, p in enumerate(sent) if CANCEL_KIND.encode() in p and fall.id.encode() in p)
    assert alarm_at < cancel_at  # the station stores the alarm, then its cancellation


async def test_a_second_fall_while_the_first_alarm_is_open_is_never_said_cancelled(home: Home) -> None:
    """Issue 17, 11: the second fall joins the open alarm; when it clears, nothing was
    cancelled, so the elder must not hear 求助已取消 while help is on its way."""
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall pre-alarm")
    first = home.hub.store.open_alarms()[0].id
    home.hub._do(home.hub.engine.tick(time.time() + 31))
    assert home.alarms()["fall"] is AlarmState.SENT
    await home.do("getup")
    await eventually(lambda: home.kinds().count("fall.cleared") == 1, what="first fall cleared")
    await home.do("fall")
    await eventually(lambda: home.kinds().count("fall.detected") == 2, what="second fall")
    await home.do("getup")
    await eventually(lambda: home.kinds().count("fall.cleared") == 2, what="second fall cleared")
    await asyncio.sleep(0.1)
    assert "cancelled" not in home.heard()
    assert [(a.id, a.state) for a in home.hub.store.open_alarms()] == [(first, AlarmState.SENT)]
    repeats = [p.payload for p in home.hub.store.pending() if b'"kind":"fall.detected"' in p.payload
               and first.encode() in p.payload and b'"alarm"' not in p.payload]
    assert len(repeats) == 1  # the station hears the second fall, on the open alarm
    assert not any(CANCEL_KIND.encode() in p.payload for p in home.hub.store.pending())


async def test_unacknowledged_call_escalates_at_home(home: Home) -> None:
    await home.do("press")  # no station on this in-memory broker: nothing acknowledges it
    await eventually(lambda: "panic" in home.alarms(), what="panic")
    home.hub.alarms.escalate(time.time() + 29)
    assert "still_trying" not in home.heard()
    home.hub.alarms.escalate(time.time() + 31)
    assert home.heard()[-1] == "still_trying"
    assert home.hub.hw.siren and home.hub.hw.siren.pattern == "panic"
    home.hub.alarms.escalate(time.time() + 61)
    assert home.heard().count("still_trying") == 1


async def test_technical_alarms_stay_quiet_at_home(home: Home) -> None:
    await home.do("battery-low bath_leak 8")
    await eventually(lambda: "battery_low" in home.alarms(), what="low battery alarm")
    assert "call_sent" not in home.heard()


async def test_bad_rules_on_reload_keep_the_old_ones(home: Home, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - name: x\n    trigger: smoke.on\n    actions: [{alarm: nonsense}]\n")
    object.__setattr__(home.hub.cfg, "rules", [bad])
    before = home.hub.engine.rules
    assert not home.hub.reload_rules()
    assert home.hub.engine.rules is before
    await home.do("smoke")
    await eventually(lambda: "smoke" in home.alarms(), what="smoke still handled")


async def test_cancel_button_cancels_the_call_and_the_station_is_told(home: Home) -> None:
    await home.do("press")
    await eventually(lambda: "panic" in home.alarms(), what="panic")
    panic = home.hub.store.open_alarms()[0]
    await home.do("cancel")
    await eventually(lambda: "panic" not in home.alarms(), what="cancelled")
    assert home.heard()[-1] == "cancelled"
    pending = [p.payload for p in home.hub.store.pending()]
    assert any(CANCEL_KIND.encode() in p and panic.id.encode() in p for p in pending)


async def test_holding_the_button_cancels_the_earlier_call_not_a_new_one(home: Home) -> None:
    await home.do("press bedside")
    await eventually(lambda: "panic" in home.alarms(), what="panic")
    await home.do("hold bedside")  # its press is not a press again: the hold cancels
    await eventually(lambda: "panic" not in home.alarms(), what="call cancelled by the long press")
    assert home.kinds().count("button.press") == 1 and "button.long" in home.kinds()
    assert not any(b'"kind":"button.again"' in p.payload for p in home.hub.store.pending())
    assert "pressed_again" not in home.heard() and home.heard()[-1] == "cancelled"
    # a first press held down is a call for help, not a cancel
    await home.do("hold bedside")
    await asyncio.sleep(0.1)
    assert home.alarms()["panic"] is AlarmState.SENT


async def test_a_press_again_during_the_call_is_answered_at_once_and_raises_nothing(home: Home) -> None:
    """Issue 17, 12: the elder who presses again while waiting hears where the call stands;
    the station gets the press in the alarm lane, on the open call."""
    await home.do("press bedside")
    await eventually(lambda: "panic" in home.alarms(), what="panic")
    call = home.hub.store.open_alarms()[0].id
    heard = len(home.heard())
    await home.do("press cord")  # no station here: the call is still on its way
    await eventually(lambda: len(home.heard()) > heard, what="an answer to the press")
    assert home.heard()[heard:] == ["still_trying"]
    assert [a.id for a in home.hub.store.open_alarms()] == [call]
    [again] = [p for p in home.hub.store.pending() if b'"kind":"button.again"' in p.payload]
    assert again.alarm and f'"ref":"{call}"'.encode() in again.payload


async def test_a_hold_after_the_cancel_window_says_why_it_cannot_cancel(home: Home) -> None:
    await home.do("press bedside")
    await eventually(lambda: "panic" in home.alarms(), what="panic")
    object.__setattr__(home.hub.cfg, "cancel_window_s", 0.0)  # the window has passed
    for gesture in ("hold cord", "cancel"):
        heard = len(home.heard())
        await home.do(gesture)
        await eventually(lambda n=heard: len(home.heard()) > n, what=f"an answer to {gesture}")
        assert home.heard()[heard:] == ["cannot_cancel"]
    assert home.alarms()["panic"] is AlarmState.SENT
    assert not any(CANCEL_KIND.encode() in p.payload for p in home.hub.store.pending())


async def test_a_ble_pendant_calls_for_help(home: Home) -> None:
    await home.do("ble-button pendant press")
    await eventually(lambda: "panic" in home.alarms(), what="panic from the BLE pendant")
    assert next(e for e in home.events if e.kind == "button.press").source == "pendant"


async def test_holding_a_button_during_the_fall_question_cancels_without_a_new_call(home: Home) -> None:
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall pre-alarm")
    await home.do("hold bedside")
    await eventually(lambda: "fall" not in home.alarms(), what="fall cancelled by the hold")
    await asyncio.sleep(0.1)
    assert "panic" not in home.alarms()


async def test_a_short_press_during_the_fall_question_is_a_call_for_help(home: Home) -> None:
    await home.do("fall")
    await eventually(lambda: "fall" in home.alarms(), what="fall pre-alarm")
    await home.do("press bedside")
    await eventually(lambda: "panic" in home.alarms(), what="panic on release")


async def test_a_hub_that_starts_on_battery_says_so(tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    pins = MockFactory()
    pins.pin(5).drive_low()  # the UPS HAT says: no mains
    cfg = home_config(tmp_path, gpio={"backend": "real"})  # real wiring, mock pins under it
    seen: list[str] = []
    broker = MemoryBroker()
    hub = HubService(cfg, pins=pins, transport=lambda c, _: broker.client(last_will(c.hub_id)))
    hub.on_event = lambda e: seen.append(e.kind)
    async with hub:
        assert "mains.fail" in seen  # no edge ever comes: the reading at start must be told


async def test_a_condition_still_present_after_a_restart_raises_no_second_alarm(home: Home) -> None:
    from hub.rules import Engine

    await home.do("battery-low bath_leak 8")
    await eventually(lambda: "battery_low" in home.alarms(), what="low battery alarm")
    hub = home.hub  # forget what the rules and senses knew, as a restart does
    hub.engine = Engine(hub.engine.rules, now=time.time(), category="general", tz=hub.cfg.tz)
    hub.senses.forget()
    await home.do("battery-low bath_leak 7")
    await eventually(lambda: any(b'"ref"' in p.payload and b"battery.low" in p.payload
                                 for p in hub.store.pending()), what="the repeat sent as telemetry")
    assert [a.kind for a in hub.store.open_alarms()].count("battery_low") == 1


async def test_anxin_sim_offers_every_verb_the_home_takes(home: Home) -> None:
    from hub.cli.sim import VERBS

    assert set(VERBS) == set(home.sim.handlers())


def test_a_press_while_the_elder_is_asked_waits_for_its_hold_or_release(tmp_path: Path) -> None:
    senses = Senses(home_config(tmp_path))
    assert [e.kind for e in senses.press("cancel", 10.0, steps=0.0, undecided=True)] == ["cancel.press"]
    [call] = senses.press("bedside", 10.0, steps=0.0, undecided=False)
    assert (call.kind, call.ts, call.data) == ("button.press", 10.0, {"location": "卧室床头"})
    assert senses.release("bedside", 10.2, steps=0.0) == []  # it was already a call
    assert senses.press("bedside", 20.0, steps=0.0, undecided=True) == []  # a hold, or a call?
    [cancel] = senses.hold("bedside", 3621.0, steps=3600.0)  # NTP stepped the clock meanwhile
    assert (cancel.kind, cancel.data["pressed"]) == ("button.long", 3620.0)
    assert senses.release("bedside", 3622.0, steps=3600.0) == []  # the hold decided it
    assert senses.press("cord", 30.0, steps=0.0, undecided=True) == []
    [again] = senses.release("cord", 30.3, steps=-5.0)  # a short press: help after all
    assert (again.kind, again.ts) == ("button.press", 25.0)
