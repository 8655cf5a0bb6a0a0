"""The speakerphone over a loopback room: clips in order, mixing, the microphone only in a call,
the stream closed when idle, and several threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from drivers.audio import AudioUnavailable
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone


def wait_for(check: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {check}"
        time.sleep(0.005)


def const(value: int, n: int) -> np.ndarray:
    return np.full(n, value, np.int16)


@pytest.fixture
def room() -> LoopbackAudio:
    return LoopbackAudio(source=np.full(320, 777, np.int16), realtime=False)


def test_clips_play_in_order_from_the_first_block(room: LoopbackAudio) -> None:
    phone = Speakerphone(room)
    assert not phone.streaming and phone.idle()
    assert phone.play(const(100, 500)) == 500 / 16000
    phone.play(const(200, 300))
    assert phone.streaming and not phone.idle()
    room.step(3)
    played = room.played
    assert np.array_equal(played[:800], np.concatenate([const(100, 500), const(200, 300)]))
    assert not played[800:].any()
    assert phone.idle()


def test_the_microphone_is_never_opened_silently(room: LoopbackAudio) -> None:
    phone = Speakerphone(room)
    heard: list[np.ndarray] = []
    phone.play(const(1000, 16000))  # a second of prompt: the device runs, its mic included
    room.step(10)
    assert heard == [] and not phone.mic_open
    phone.start_call(heard.append, lambda: const(0, 320))
    assert phone.mic_open
    room.step(5)
    assert len(heard) == 5 and all((h == 777).all() for h in heard)
    phone.end_call()
    assert not phone.mic_open
    room.step(20)
    assert len(heard) == 5  # not one block after the call ended, though the prompt plays on
    phone.start_call(heard.append, lambda: const(0, 320))
    with pytest.raises(RuntimeError, match="already open"):
        phone.start_call(heard.append, lambda: const(0, 320))


def test_clips_and_the_far_end_are_summed_without_wrapping_around(room: LoopbackAudio) -> None:
    phone = Speakerphone(room)
    phone.start_call(lambda mic: None, lambda: const(20000, 320))
    room.step(1)
    phone.play(np.array([20000, -30000, 5000], np.int16))
    room.step(1)
    block = room.played[320:640]
    assert list(block[:4]) == [32767, -10000, 25000, 20000]  # saturated, not wrapped
    assert (room.played[:320] == 20000).all()


def test_a_far_end_of_the_wrong_length_is_fitted_and_a_failing_one_is_counted(room: LoopbackAudio) -> None:
    phone = Speakerphone(room)
    calls = 0

    def far() -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ValueError("decoder broke")
        return const(5, 100)

    phone.start_call(lambda mic: None, far)
    room.step(3)
    played = room.played
    assert (played[:100] == 5).all() and not played[100:320].any()
    assert not played[320:640].any()  # the failing block played silence
    assert (played[640:740] == 5).all() and phone.errors == 1


def test_bad_clips_are_refused(room: LoopbackAudio) -> None:
    phone = Speakerphone(room)
    with pytest.raises(ValueError, match="mono int16"):
        phone.play(np.zeros(10, np.float32))
    with pytest.raises(ValueError, match="mono int16"):
        phone.play(np.zeros((10, 2), np.int16))
    assert phone.play(np.zeros(0, np.int16)) == 0.0
    assert not phone.streaming  # nothing to play: the device stays closed


def test_the_stream_closes_when_idle_and_reopens_for_the_next_clip(room: LoopbackAudio) -> None:
    phone = Speakerphone(room, idle_close_s=0.1)  # 5 blocks
    phone.play(const(9, 320))
    room.step(4)
    assert phone.streaming  # 1 block of clip, 3 idle
    room.step(2)
    wait_for(lambda: not phone.streaming)
    assert not room.running
    phone.start_call(lambda mic: None, lambda: const(0, 320))
    room.step(20)
    assert phone.streaming  # a call keeps it open however quiet
    phone.end_call()
    room.step(5)
    wait_for(lambda: not room.running)
    phone.play(const(11, 320))
    assert room.running
    room.step(1)
    assert (room.played[-320:] == 11).all()


class Broken(LoopbackAudio):
    def start(self, callback: Callable[[np.ndarray], np.ndarray]) -> None:
        raise AudioUnavailable("no output device: plug in the USB speakerphone")


def test_a_device_that_will_not_open_drops_the_clip_and_says_why() -> None:
    phone = Speakerphone(Broken(realtime=False))
    with pytest.raises(AudioUnavailable, match="plug in"):
        phone.play(const(1, 320))
    assert phone.idle() and not phone.streaming
    with pytest.raises(AudioUnavailable):
        phone.start_call(lambda mic: None, lambda: const(0, 320))
    assert not phone.mic_open


def test_threads_play_while_a_call_runs_in_real_time() -> None:
    room = LoopbackAudio()
    heard = 0
    lock = threading.Lock()

    def on_mic(mic: np.ndarray) -> None:
        nonlocal heard
        with lock:
            heard += 1

    with Speakerphone(room) as phone:
        phone.start_call(on_mic, lambda: const(0, 320))

        def player(value: int) -> None:
            for _ in range(5):
                phone.play(const(value, 160))
                time.sleep(0.003)

        threads = [threading.Thread(target=player, args=(v,)) for v in (1, 2, 3, 4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(phone.idle)
        phone.end_call()
        after = heard
        time.sleep(0.1)
        assert heard == after and after > 0
    assert not room.running
    played = room.played[room.played != 0]
    assert len(played) == 20 * 160  # every clip, whole
    runs = np.split(played, np.flatnonzero(np.diff(played)) + 1)
    assert all(len(r) % 160 == 0 for r in runs)  # no clip cut into by another
    assert phone.errors == 0
