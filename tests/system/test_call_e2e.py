"""A voice call end to end over a real Mosquitto: the station service, a hub with a simulated
speakerphone (a loopback room whose elder talks) and the console driven by Pilot, whose
headset is a loopback too. Claim -> call -> the hub says its prompt, then opens the mic ->
voice both ways -> hang up -> the recording (Ogg/Opus) is attached to the alarm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from console.station.config import StationConfig
from console.station.service import StationService
from console.station.users import Role
from console.tui.app import ConsoleApp
from console.tui.screens.alarm import AlarmScreen
from console.tui.widgets.call_bar import CallBar
from console.tui.widgets.elder_card import ElderCard
from drivers.audio import RATE
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone
from drivers.gpio.sim import SimPins
from hub.common.events import AlarmState
from hub.runtime.config import HubConfig
from hub.runtime.service import HubService
from hub.sim.home import SimHome
from tests.conftest import eventually
from tests.support.accounts import add_users, log_in
from tests.support.callkit import (
    band_share,
    correlation,
    heard_in_order,
    home_with_voice,
    room,
    tone,
)
from tests.support.voicesig import speech_like

OFFICER_HZ = 700.0
QUIET_S = 3.0  # the officer says nothing for this long, then speaks (OFFICER_HZ)


@pytest.fixture(autouse=True)
def officers(station_cfg: StationConfig, cheap_passwords: None) -> None:
    add_users(station_cfg.database, ("zhang", "张三", Role.DUTY))


def shown(app: ConsoleApp) -> set[str]:
    """The actions the footer offers now."""
    return {b.action for (_, b, enabled, _) in app.active_bindings.values() if enabled and b.show}


def bar(app: ConsoleApp) -> str:
    w = app.query_one(CallBar)
    return str(w.render()) if w.display else ""


def loudspeaker_at_first_mic_block(monkeypatch: pytest.MonkeyPatch, phone: Speakerphone,
                                   home: LoopbackAudio) -> list[np.ndarray]:
    """Filled, when the hub's microphone gives its first block, with what the loudspeaker had
    played by then: the announcement must be in it."""
    first_mic: list[np.ndarray] = []
    real_start = phone.start_call

    def spy(on_mic: Callable[[np.ndarray], None], far: Callable[[], np.ndarray]) -> None:
        def heard(block: np.ndarray) -> None:
            if not first_mic:
                first_mic.append(home.played)
            on_mic(block)
        real_start(heard, far)
    monkeypatch.setattr(phone, "start_call", spy)
    return first_mic


async def test_claim_call_talk_hang_up_and_the_recording(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig],
        monkeypatch: pytest.MonkeyPatch) -> None:
    elder = speech_like(4.0)
    cfg = home_with_voice(hub_cfg, tmp_path, elder)
    officer = np.concatenate([np.zeros(int(QUIET_S * RATE), np.int16), tone(OFFICER_HZ, 3.0)])
    headset = LoopbackAudio()  # the alarm tone and the ring-back play on it before the call
    async with StationService(station_cfg) as station, HubService(cfg) as hub:
        home = room(hub)
        phone = hub.hw.phone
        assert phone is not None and not phone.mic_open
        first_mic = loudspeaker_at_first_mic_block(monkeypatch, phone, home)

        app = ConsoleApp(station_cfg, phone=Speakerphone(headset))
        async with app.run_test(size=(120, 34)) as pilot:
            await log_in(pilot, app, "zhang")
            await eventually(lambda: hub.link.connected and app.station_online, what="all up")
            assert {"answer", "visit"} <= shown(app) and not {"hangup", "mute"} & shown(app)
            await asyncio.to_thread(SimPins(hub.pins).click, 17)
            alarm = (await eventually(station.store.open_alarms, what="alarm stored"))[0]
            await eventually(lambda: app.desk.queue.row_count == 1, what="alarm in the queue")
            await pilot.press("a")  # not claimed yet: refused in the console itself
            await eventually(lambda: any("请先接警" in str(n.message) for n in app._notifications))
            await pilot.press("c")
            await eventually(lambda: (a := station.store.alarm(alarm.id)) is not None
                             and a.state is AlarmState.CLAIMED and app.desk.queue.selected
                             and app.desk.queue.selected.claimed_by == "zhang", what="claimed")

            t_call = time.monotonic()
            await pilot.press("a")
            await eventually(lambda: "正在接通" in bar(app) or "通话中" in bar(app), what="ringing")
            await eventually(lambda: hub.calls.mic_open, what="the hub's mic open")
            opened = len(headset.played)
            headset.speak(officer)
            assert phone.mic_open and hub.calls.call and hub.calls.call.alarm == alarm.id
            await eventually(lambda: "通话中 王秀英" in bar(app), what="call bar: on call")
            assert {"hangup", "mute", "volume_up", "volume_down"} <= shown(app)
            assert not {"answer", "visit"} & shown(app)
            await eventually(lambda: first_mic, what="the first microphone block")
            # the elder called: officer_on_line, no chime, and only then the microphone
            assert heard_in_order(first_mic[0])[-1:] == ["officer_on_line"]
            assert "announce" not in heard_in_order(first_mic[0])
            await eventually(lambda: (a := station.store.alarm(alarm.id)) is not None
                             and a.state is AlarmState.IN_CALL, what="alarm in_call at the station")
            assert hub.store.open_alarms()[0].state is AlarmState.IN_CALL

            # the elder talks while the officer is quiet: the console's headset plays it
            await eventually(lambda: len(headset.played) - opened > (QUIET_S + 2.5) * RATE, timeout=10,
                             what="the officer's turn")
            heard = headset.played[opened + RATE:opened + int(QUIET_S * RATE)]
            corr = correlation(elder, heard)
            print(f"hub -> console: correlation {corr:.2f} over {len(heard) / RATE:.1f} s")
            assert corr > 0.8
            # the officer talks: the home's loudspeaker plays it
            spoke = home.played[-RATE:]
            share = band_share(spoke, OFFICER_HZ)
            print(f"console -> hub: {100 * share:.0f} % of the loudspeaker's energy at {OFFICER_HZ:.0f} Hz")
            assert share > 0.5

            await pilot.press("m")
            assert "已静音" in bar(app) and app.line.call and app.line.call.mic.muted
            await pilot.press("plus")
            assert "音量 125%" in bar(app)
            await pilot.press("h")
            await eventually(lambda: not hub.calls.mic_open and not phone.mic_open,
                             what="the hub's mic closed")
            t_end = time.monotonic()
            assert not headset_open(app)
            await eventually(lambda: "通话结束 王秀英：已挂断" in bar(app), what="bar: ended")
            assert "answer" in shown(app)  # call again; no online visit from the alarm screen
            assert "visit" not in shown(app) and isinstance(app.screen, AlarmScreen)
            await eventually(lambda: (a := station.store.alarm(alarm.id)) is not None
                             and a.state is AlarmState.CLAIMED, what="the alarm no longer in a call")

            [call] = await eventually(lambda: [c for c in station.store.calls.for_alarm(alarm.id)
                                               if c.recorded is not None], what="recorded")
            await eventually(lambda: (c := station.store.calls.get(call.id)) is not None
                             and c.duration is not None, what="the hub's call.end")
            call = station.store.calls.get(call.id)
            assert call and call.reason == "hangup" and call.username == "zhang"
            assert call.answered is not None and call.recording
            info = sf.info(call.recording)
            print(f"recording {info.duration:.2f} s, call open {call.duration} s "
                  f"({t_end - t_call:.1f} s from the key)")
            assert (info.format, info.subtype, info.channels, info.samplerate) == (
                "OGG", "OPUS", 2, RATE)
            assert call.duration is not None and abs(info.duration - call.duration) < 0.5
            assert Path(call.recording).parent == station_cfg.recordings
            left, right = sf.read(call.recording, dtype="int16")[0].T
            assert correlation(elder, left[:int(2.0 * RATE)]) > 0.8  # the elder, left
            assert band_share(right, OFFICER_HZ) > 0.5  # the officer, right
            card = str(app.query_one(ElderCard).render())
            assert "通话" in card and call.recording in card
            actions = [e.action for e in station.store.audit_entries(target=alarm.id)]
            assert actions == ["alarm.claim", "call.start", "call.end"]
        assert not phone.mic_open
        prompts = [k for _, k, _ in hub.speaker.heard]
        assert prompts == ["call_sent", "station_has_it", "officer_claimed", "officer_on_line",
                           "call_ended"]


def headset_open(app: ConsoleApp) -> bool:
    return app.phone is not None and app.phone.mic_open  # type: ignore[attr-defined]


async def test_an_online_visit_rings_with_the_chime_and_prompt_before_the_mic(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = home_with_voice(hub_cfg, tmp_path, tone(440, 1.0))
    async with StationService(station_cfg) as station, HubService(cfg) as hub, SimHome(hub) as sim:
        home, phone = room(hub), hub.hw.phone
        assert phone is not None
        first_mic = loudspeaker_at_first_mic_block(monkeypatch, phone, home)
        app = ConsoleApp(station_cfg, phone=Speakerphone(LoopbackAudio()))
        async with app.run_test(size=(120, 34)) as pilot:
            await log_in(pilot, app, "zhang")
            await eventually(lambda: hub.link.connected and app.station_online
                             and app.desk.roster.homes.get("h001") and app.desk.roster.homes["h001"].online,
                             what="h001 online")
            app.desk.roster.focus()
            app.desk.roster.cursor = app.desk.roster.keys.index("h001")
            await pilot.press("v")
            await eventually(lambda: first_mic, what="the microphone opened")
            assert heard_in_order(first_mic[0]) == ["announce", "visit_call"]
            [call] = await eventually(lambda: [c for c in [station.store.calls.open_call("h001")]
                                               if c and c.answered], what="call.open stored")
            assert call.alarm is None and call.visit == call.id
            await eventually(lambda: "通话中" in bar(app), what="bar: on call")
            await asyncio.sleep(1.0)
            await pilot.press("h")
            await eventually(lambda: not phone.mic_open, what="mic closed")
            ended = await eventually(lambda: (c := station.store.calls.get(call.id)) and
                                     c.recorded is not None and c, what="recording closed")
            assert ended.reason == "hangup" and sf.info(ended.recording).duration > 0.5
            # `anxin sim h001 played FILE`: what the loudspeaker played
            await sim.played([str(tmp_path / "heard.wav")])
            assert heard_in_order(sf.read(tmp_path / "heard.wav", dtype="int16")[0])[:2] == [
                "announce", "visit_call"]
            assert [e.action for e in station.store.audit_entries(target="h001")][-2:] == [
                "call.start", "call.end"]


async def test_a_silent_console_times_out_and_the_home_is_told(
        tmp_path: Path, station_cfg: StationConfig, hub_cfg: Callable[..., HubConfig]) -> None:
    """The console that started the call vanishes (no voice, no hangup): after silence_s the
    hub ends the call itself, and the station and the officer's console learn why."""
    cfg = home_with_voice(hub_cfg, tmp_path, None)
    async with StationService(station_cfg) as station, HubService(cfg) as hub:
        app = ConsoleApp(station_cfg, phone=Speakerphone(LoopbackAudio()))
        async with app.run_test(size=(120, 34)) as pilot:
            await log_in(pilot, app, "zhang")
            await eventually(lambda: hub.link.connected and app.station_online
                             and app.desk.roster.homes.get("h001") and app.desk.roster.homes["h001"].online)
            app.desk.roster.focus()
            await pilot.press("v")
            await eventually(lambda: hub.calls.mic_open, what="mic open")
            assert app.line.call
            app.line.call.audio.stop()  # the headset goes dead: no more packets
            t0 = time.monotonic()
            await eventually(lambda: not hub.calls.mic_open, timeout=10, what="timed out")
            took = time.monotonic() - t0
            print(f"call ended {took:.1f} s after the last packet (silence_s 3)")
            assert 2.5 < took < 5
            await eventually(lambda: "连接超时" in bar(app), what="console shows the timeout")
            call = station.store.calls.get(app.line.call.id)
            assert call and call.reason == "timeout" and call.duration is not None
        assert [k for _, k, _ in hub.speaker.heard][-1] == "call_ended"  # type: ignore[attr-defined]
