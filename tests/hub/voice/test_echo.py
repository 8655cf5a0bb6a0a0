"""The hub's speakerphone echo, measured: the voice switch on a simulated room.

The room: what the loudspeaker plays comes back into the microphone after 10 ms, at a set
gain, with a reverberation tail (exponentially decaying noise, RT60 200 ms, over 150 ms), plus
room noise at -65 dBFS. Attenuation is ERLE-like: echo energy into the mic path over energy
out of it, with the elder silent. Then double talk: the elder speaks over the officer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from hub.voice import FRAME, RATE
from hub.voice.echo import Talk, VoiceSwitch
from hub.voice.loudness import level_db
from tests.support.voicesig import frames, speech_like

Float = npt.NDArray[np.float64]


def echo_path(gain_db: float, delay_ms: float = 10, rt60_ms: float = 200, tail_ms: float = 150) -> Float:
    """Impulse response: direct sound at ``gain_db`` after ``delay_ms``, then the room's tail."""
    rng = np.random.default_rng(3)
    d, n = int(delay_ms * RATE / 1000), int(tail_ms * RATE / 1000)
    t = np.arange(n) / RATE
    h = np.zeros(d + n)
    h[d:] = rng.standard_normal(n) * 0.1 * 10 ** (-3 * t / (rt60_ms / 1000))
    h[d] += 1.0
    return h * 10 ** (gain_db / 20)


class Room:
    """The switch in a room, block by block as the speakerphone drives it: the far frame is
    played, and the mic hears its echo (``h``, by overlap-add), the room noise and the elder."""

    def __init__(self, h: Float, near: Float, switch: VoiceSwitch | None = None) -> None:
        self.near = near
        self.switch = switch or VoiceSwitch()
        self.rng = np.random.default_rng(9)
        self.n = 1 << int(np.ceil(np.log2(len(h) + FRAME)))
        self.h = np.fft.rfft(h, self.n)
        self.ringing: Float = np.zeros(self.n)  # echo still to come, from this block on

    def run(self, far: npt.NDArray[np.int16]) -> tuple[Float, Float, list[Talk], Float]:
        """(mic path out, echo at the mic, state per frame, what was played)."""
        outs, echoes, states, played = [], [], [], []
        for k, f in enumerate(frames(far)):
            p = self.switch.far(f).astype(np.float64)
            played.append(p)
            self.ringing += np.fft.irfft(np.fft.rfft(p, self.n) * self.h, self.n)
            echo, self.ringing = self.ringing[:FRAME], np.concatenate((self.ringing[FRAME:], np.zeros(FRAME)))
            noise = self.rng.standard_normal(FRAME) * 32768 * 10 ** (-65 / 20)
            mic = np.clip(np.rint(echo + noise + self.near[k * FRAME:(k + 1) * FRAME]), -32768, 32767)
            outs.append(self.switch.near(mic.astype(np.int16)).astype(np.float64))
            echoes.append(echo)
            states.append(self.switch.state)
        return np.concatenate(outs), np.concatenate(echoes), states, np.concatenate(played)


def erle_db(echo: Float, out: Float) -> float:
    return 10 * float(np.log10(np.sum(echo**2) / np.sum(out**2)))


@pytest.mark.parametrize(("gain_db", "delay_ms", "rt60_ms"), [
    (-20, 10, 200), (-10, 10, 200), (-6, 10, 400), (0, 10, 200), (6, 10, 200),
    (-6, 60, 400),  # a sound card's buffers in the loop, a living room
    (0, 60, 600),
])
def test_echo_attenuation(gain_db: float, delay_ms: float, rt60_ms: float) -> None:
    """From a quiet box (-20 dB) to echo louder than the far voice itself (+6 dB), with the
    echo 10-60 ms late and rooms of 200-600 ms reverberation: the mic path carries the
    officer's voice back at least 25 dB down."""
    far = speech_like(6.0, seed=7)
    h = echo_path(gain_db, delay_ms=delay_ms, rt60_ms=rt60_ms, tail_ms=rt60_ms)
    room = Room(h, np.zeros(len(far)))
    out, echo, states, _ = room.run(far)
    erle = erle_db(echo, out)
    frac = {t.value: round(states.count(t) / len(states), 2) for t in Talk}
    print(f"echo path {gain_db:+.0f} dB {delay_ms} ms RT60 {rt60_ms} ms: echo {level_db(echo):.1f} dBFS, "
          f"out {level_db(out):.1f} dBFS, attenuation {erle:.1f} dB, "
          f"coupling learnt {room.switch.coupling_db:+.1f} dB, states {frac}")
    assert erle >= 25
    assert states.count(Talk.TX) <= 2  # echo is never mistaken for the elder for long


def double_talk(near_over_echo_db: float) -> tuple[float, float, float, float]:
    """The officer talks for 6 s; the elder talks over them 2.0-3.5 s and 4.5-5.5 s, at a level
    ``near_over_echo_db`` above the echo. Returns (gain of the elder's voice through the mic
    path, share of the elder's frames sent in TX, loudspeaker level change during TX in dB,
    attenuation of the echo outside the elder's turns)."""
    far = speech_like(6.0, seed=7)
    h = echo_path(-10.0)
    echo_db = level_db(np.convolve(far.astype(np.float64), h)[: len(far)])
    voice = speech_like(6.0, seed=11).astype(np.float64)
    near = np.zeros(len(far))
    turns = [(2.0, 3.5), (4.5, 5.5)]
    for a, b in turns:
        near[int(a * RATE):int(b * RATE)] = voice[int(a * RATE):int(b * RATE)]
    near *= 10 ** ((echo_db + near_over_echo_db - level_db(near[near != 0])) / 20)
    room = Room(h, near)
    out, echo, states, played = room.run(far)
    talking = near != 0
    gain = float(np.dot(out[talking], near[talking]) / np.dot(near[talking], near[talking]))
    elder_frames = [s for k, s in enumerate(states) if talking[k * FRAME:(k + 1) * FRAME].any()]
    tx = elder_frames.count(Talk.TX) / len(elder_frames)
    tx_mask = np.repeat([s is Talk.TX for s in states], FRAME)
    duck = level_db(played[tx_mask]) - level_db(far[: len(played)][tx_mask].astype(np.float64))
    alone = ~np.repeat([s is Talk.TX for s in states], FRAME) & ~talking[: len(out)]
    return gain, tx, duck, erle_db(echo[alone], out[alone])


def test_double_talk_lets_the_elder_through() -> None:
    """The elder 10 dB above the echo (speaking up near the box) gets through at nearly full
    level while the officer goes on talking; the loudspeaker is turned down 6 dB meanwhile."""
    gain, tx, duck, erle = double_talk(10.0)
    print(f"elder +10 dB over echo: voice through at {20 * np.log10(gain):+.1f} dB, {tx:.0%} of the "
          f"elder's frames sent, loudspeaker {duck:+.1f} dB during TX, echo elsewhere -{erle:.1f} dB")
    assert gain >= 0.7  # -3 dB: the first 40 ms of each turn and the ramps are lost
    assert tx >= 0.75
    assert duck == pytest.approx(-6.0, abs=1.0)
    assert erle >= 25


def test_elder_quieter_than_the_echo_does_not_open_the_mic() -> None:
    """The price of half duplex, stated: a voice below the echo level cannot break in (it
    could not be told from the echo); the officer is heard and the mic stays attenuated."""
    gain, tx, _, _ = double_talk(-6.0)
    print(f"elder -6 dB under echo: voice through at {gain:.2f}, {tx:.0%} of frames sent")
    assert tx <= 0.25


def test_elder_alone_passes_untouched() -> None:
    voice = speech_like(3.0, seed=11)
    room = Room(echo_path(-10.0), voice.astype(np.float64))
    out, _, states, _ = room.run(np.zeros(len(voice), np.int16))
    assert Talk.RX not in states
    assert level_db(out) == pytest.approx(level_db(voice), abs=0.2)
