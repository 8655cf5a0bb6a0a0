"""Voice through a bad network and through the real broker, judged by the audio that comes out.

A speech signal (a rendered prompt when config/prompts has one, else synthetic speech) goes
Sender -> simulated network -> Receiver, hub to station and station to hub, with packets
lost (independently) and delayed by a uniform jitter wide enough to reorder them. The output
is aligned to the input by cross-correlation (each 0.5 s on its own, since the jitter buffer
shifts playout when it stretches or catches up) and scored by correlation and SNR.

Why these thresholds: Opus is a perceptual codec, so even without loss the waveform differs
from the input (SILK at 20 kbit/s: corr 0.90-0.96, SNR 7-11 dB). Each threshold sits ~0.04
in correlation and ~1 dB in SNR below the worst of five signals (two synthetic voices, three
espeak-ng renderings: Mandarin and English sentences, the longest prompt) times four network
seeds, measured when they were set. That is near the issue's example (0.9 / 0.8 / 0.6 at
0 / 5 / 20 % loss) except that 120 ms of jitter costs the English rendering most: the jitter
buffer starts at 40 ms and packets come late until it has grown to the jitter. FEC and
concealment are checked on their own in tests/hub/voice/test_core.py.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from console.station.trust.broker import Mosquitto
from hub.voice import FRAME_MS
from hub.voice.pipeline import Receiver, Sender
from tests.support.voicesig import MqttEnd, aligned, frames, run_link, speech_like, speech_signal

# (loss, jitter spread in ms, i.e. +-half of it) -> (min correlation, min SNR dB)
CASES = {
    (0.0, 0): (0.85, 5.5),
    (0.0, 120): (0.75, 3.0),
    (0.05, 60): (0.75, 3.0),
    (0.05, 120): (0.75, 3.0),
    (0.20, 60): (0.65, 1.5),
    (0.20, 120): (0.65, 1.5),
}


@pytest.mark.parametrize(("loss", "jitter_ms"), list(CASES))
def test_speech_survives_loss_and_jitter_both_ways(loss: float, jitter_ms: int) -> None:
    min_corr, min_snr = CASES[loss, jitter_ms]
    name, up = speech_signal(4.0)
    down = speech_like(4.0, seed=5)  # the officer
    for way, signal, seed in (("hub -> station", up, 1), ("station -> hub", down, 2)):
        out, stats = run_link(signal, loss=loss, jitter_ms=jitter_ms, seed=seed)
        corr, snr = aligned(signal, out)
        print(f"{way} ({name if signal is up else 'synthetic speech'}), loss {loss:.0%}, jitter "
              f"+-{jitter_ms // 2} ms: corr {corr:.3f}, SNR {snr:.1f} dB; lost {stats['lost']}, "
              f"FEC {stats['recovered']}, concealed {stats['concealed']}, late {stats['late']}, "
              f"delay {stats['delay_ms']} ms (target {stats['target_ms']})")
        assert corr >= min_corr
        assert snr >= min_snr
        assert stats["lost"] <= loss * len(frames(signal)) * 1.6 + 3 + stats["late"]


def test_round_trip_through_mosquitto(broker: Mosquitto) -> None:
    """hub -> broker -> station, whose Receiver plays it and whose Sender sends what it heard
    back -> broker -> hub, in real time at QoS 0: every packet arrives intact and in order, and
    the voice comes back after two Opus passes."""
    up_topic, down_topic = "anxin/v1/hub/h001/voice/up", "anxin/v1/hub/h001/voice/down"
    signal = speech_like(2.0)
    lock = threading.Lock()
    hub_rx, station_rx = Receiver("c1"), Receiver("c1")
    hub_tx, station_tx = Sender("c1"), Sender("c1")
    arrived: list[bytes] = []

    def at_station(payload: bytes) -> None:
        with lock:
            arrived.append(payload)
            station_rx.push(payload)

    def at_hub(payload: bytes) -> None:
        with lock:
            hub_rx.push(payload)

    station = MqttEnd(broker.port, "station", up_topic, at_station)
    hub = MqttEnd(broker.port, "hub", down_topic, at_hub)
    sent: list[bytes] = []
    back = []
    try:
        src = frames(signal)
        due = time.monotonic()
        for k in range(len(src) + 25):  # the tail: both jitter buffers drain
            if k < len(src):
                sent.append(hub_tx.push(src[k]))
                hub.publish(up_topic, sent[-1])
            with lock:
                heard = station_rx.pull()
            station.publish(down_topic, station_tx.push(heard))
            with lock:
                back.append(hub_rx.pull())
            due += FRAME_MS / 1000
            time.sleep(max(0.0, due - time.monotonic()))
    finally:
        station.close()
        hub.close()
    assert arrived == sent
    corr, snr = aligned(signal, np.concatenate(back))
    print(f"round trip over Mosquitto: corr {corr:.3f}, SNR {snr:.1f} dB, hub {hub_rx.stats}")
    assert corr >= 0.75  # two Opus passes and two jitter buffers: 0.80-0.86 measured
    assert hub_rx.stats["lost"] == 0 and hub_rx.stats["rejected"] == 0
