"""The speaker's player thread (drivers/speaker/audio.py): a clip that fails to play is logged and
the next one plays; a thread that dies says so, for the hub to stop feeding the watchdog."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone
from drivers.speaker.audio import AudioSpeaker
from hub.runtime.config import DEFAULT_PROMPTS


class Dying(BaseException):
    """What no ``except Exception`` catches (a SystemExit, a KeyboardInterrupt in the thread)."""


class Troubled(Speakerphone):
    """Fails the clips it is told to, plays the others."""

    def __init__(self, fail: list[BaseException | None]) -> None:
        super().__init__(LoopbackAudio(rate=8000, block=160, realtime=False))
        self.fail, self.played = fail, 0

    def play(self, clip: np.ndarray) -> float:
        if self.fail and (error := self.fail.pop(0)) is not None:
            raise error
        self.played += 1
        return 0.0


def until(check: object) -> None:
    deadline = time.monotonic() + 5
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_clip_that_fails_is_logged_and_the_next_one_plays(caplog: pytest.LogCaptureFixture) -> None:
    phone = Troubled([RuntimeError("PortAudio hiccup"), None])
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "zh_CN")
    died: list[tuple[str, str]] = []
    voice.thread.on_died = lambda *a: died.append(a)
    voice.say("call_sent", "求助已发出")
    voice.say("call_sent", "求助已发出")
    until(lambda: phone.played == 1)
    assert any("prompt call_sent not heard" in r.getMessage() for r in caplog.records)
    assert died == [] and voice.thread.died is None


def test_a_player_thread_that_dies_says_so() -> None:
    phone = Troubled([Dying("gone")])
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "zh_CN")
    died: list[tuple[str, str]] = []
    told = threading.Event()
    voice.thread.on_died = lambda *a: (died.append(a), told.set())
    voice.say("call_sent", "求助已发出")
    assert told.wait(5)
    assert died == [("speaker", "Dying: gone")]
