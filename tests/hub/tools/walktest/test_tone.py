"""The microphone test's tone detection (pure), through simulated rooms: heard through delay,
loss and noise; not heard from a dead microphone, in noise alone, or at another pitch."""

from __future__ import annotations

import math
from array import array

import pytest

from hub.tools.walktest.audio import NO_DEVICE, SimulatedRoom, SoundCard
from hub.tools.walktest.tone import LEAD_S, MIN_SNR_DB, TAIL_S, TONE_HZ, TONE_S, detect, tone


@pytest.mark.parametrize("rate", [16000, 48000])
def test_the_tone_is_what_is_played(rate: int) -> None:
    t = tone(rate)
    assert len(t) == round(rate * (LEAD_S + TONE_S + TAIL_S))
    assert max(abs(x) for x in t[: round(rate * LEAD_S)]) == 0  # the room alone first
    assert 0.45 * 2**15 < max(t) < 0.55 * 2**15
    heard = detect(t, rate)
    assert heard.heard and heard.level_dbfs == pytest.approx(-6.0, abs=0.1)


@pytest.mark.parametrize(("delay_s", "gain", "noise"), [
    (0.0, 0.5, 0.0),  # a loopback cable
    (0.08, 0.2, 0.01),  # the simulated home's room
    (0.35, 0.05, 0.02),  # a slow USB card, a quiet speaker, a fan
    (0.1, 0.01, 0.001),  # faint, in a quiet room: -46 dBFS
])
def test_heard_through_a_room(delay_s: float, gain: float, noise: float) -> None:
    room = SimulatedRoom(delay_s=delay_s, gain=gain, noise=noise)
    heard = detect(room.playrec(tone(room.rate)), room.rate)
    assert heard.heard, heard
    assert heard.snr_db >= MIN_SNR_DB
    assert heard.level_dbfs == pytest.approx(20 * math.log10(gain * 0.5), abs=1.5)


@pytest.mark.parametrize(("room", "why"), [
    (SimulatedRoom(deaf=True), "a dead microphone: the room's noise only"),
    (SimulatedRoom(gain=0.0, noise=0.0), "digital silence"),
    (SimulatedRoom(gain=0.01, noise=0.1), "a tone about 30 dB under the noise"),
])
def test_not_heard(room: SimulatedRoom, why: str) -> None:
    heard = detect(room.playrec(tone(room.rate)), room.rate)
    assert not heard.heard, why


def test_another_pitch_or_a_click_is_not_the_tone() -> None:
    room = SimulatedRoom()
    assert not detect(room.playrec(tone(room.rate, hz=TONE_HZ * 1.5)), room.rate).heard
    click = array("h", [0] * len(tone(room.rate)))
    click[room.rate] = 30000  # a door slam: everything at once, for an instant
    assert not detect(room.playrec(click), room.rate).heard


def test_too_short_a_recording_is_not_heard() -> None:
    assert not detect(array("h", [1000] * 100), 16000).heard


def test_no_audio_device() -> None:
    assert SimulatedRoom(device=False).unavailable() == NO_DEVICE
    assert SimulatedRoom().unavailable() is None
    import sounddevice as sd

    try:  # the real card: on a machine without one, it says so instead of failing later
        sd.query_devices(kind="input")
        sd.query_devices(kind="output")
    except sd.PortAudioError:
        assert SoundCard().unavailable() == NO_DEVICE
    else:
        pytest.skip("this machine has audio devices")
