"""Two-way voice over a loopback Mosquitto: mouth-to-ear latency, bitrate and CPU per call-second.

Both ends of a call run in this process: the hub (CallAudio with the voice switch) and the
officer's console (CallAudio, headset), each driven every 20 ms as a sound card would drive
it (one thread plays both audio callbacks), each with its own paho client at QoS 0 on
anxin/v1/hub/h001/voice/up and .../down. Latency is per frame, capture (the tick whose mic
block was sent) -> playout (the tick whose speaker block it was at the far end): encode,
MQTT both hops, jitter buffer and decode; not the sound card's buffers. Measured the same
way, in the same run, a bare PCM path: raw 16-bit frames (plus a 4-byte sequence number),
played at the first tick after they arrive, with no codec and no jitter buffer.

The first 2 s (the jitter buffer settling from its 40 ms start) are left out of latency.
Mouth-to-ear adds what the tick method cannot see: 20 ms of framing (a frame's first sample
waits for its last; both paths) and Opus's 6.5 ms lookahead. CPU is thread time of both
ends' audio callbacks without paho's publish (AGC, voice switch, Opus encode + decode,
jitter buffer) per call-second, and the whole process (adds paho's threads) beside it.
Prints figures; does not pass or fail. Target: p99 <= 150 ms (targets.md).

    .venv/bin/python -m tests.bench.bench_voice [--seconds 20]
"""

from __future__ import annotations

import argparse
import statistics
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from console.station.trust.broker import Mosquitto
from hub.common.events import new_id
from hub.voice import FRAME, FRAME_MS
from hub.voice.call_audio import CallAudio
from hub.voice.packet import TS_MOD, decode_packet
from tests.support.voicesig import MqttEnd, Pcm, frames, speech_like

UP, DOWN = "anxin/v1/hub/h001/voice/up", "anxin/v1/hub/h001/voice/down"
PCM_UP, PCM_DOWN = "anxin/v1/hub/h001/pcm/up", "anxin/v1/hub/h001/pcm/down"
CALL = new_id()  # as the station makes them: 32 hex digits, in every packet
SETTLE_S = 2.0
LOOKAHEAD_MS = 6.5  # libopus at 16 kHz: 104 samples (OPUS_GET_LOOKAHEAD)
TCP_IP = 52  # bytes per segment: IPv4 20 + TCP 20 + timestamps 12 (one message, one segment)


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1] if len(xs) > 1 else xs[0]


def mqtt_size(topic: str, payload: int) -> int:
    """Bytes of an MQTT 3.1.1 PUBLISH at QoS 0: fixed header, remaining length, topic, payload."""
    rest = 2 + len(topic.encode()) + payload
    return 1 + (1 if rest < 128 else 2 if rest < 16384 else 3) + rest


@dataclass
class Way:
    """One direction's figures."""

    name: str
    topic: str
    latency_ms: list[float] = field(default_factory=list)
    packets: int = 0
    payload: int = 0  # codec bytes (Opus or PCM)
    packet: int = 0  # MQTT payload bytes (the voice packet)

    def row(self, path: str, seconds: float) -> str:
        lat = self.latency_ms or [float("nan")]

        def kbps(n: float) -> float:
            return n * 8 / seconds / 1000

        wire = self.packets * (mqtt_size(self.topic, 0)) + self.packet
        return (f"{path:<5} {self.name:<15} {pct(lat, 50):6.1f} {pct(lat, 95):6.1f} {pct(lat, 99):6.1f} "
                f"{len(self.latency_ms):6d} {kbps(self.payload):8.1f} {kbps(self.packet):8.1f} "
                f"{kbps(wire):8.1f} {kbps(wire + self.packets * TCP_IP):8.1f}")


class TickPhone:
    """The Speakerphone's call methods, ticked by the bench instead of a sound card."""

    def __init__(self) -> None:
        self.on_mic: Callable[[Pcm], None] | None = None
        self.far: Callable[[], Pcm] | None = None

    def start_call(self, on_mic: Callable[[Pcm], None], far: Callable[[], Pcm]) -> None:
        self.on_mic, self.far = on_mic, far

    def end_call(self) -> None:
        self.on_mic = self.far = None

    def tick(self, mic: Pcm) -> None:
        assert self.on_mic and self.far
        self.on_mic(mic)
        self.far()


def ticks(seconds: float, work: Callable[[int, float], None]) -> float:
    """Call work(k, now) every 20 ms for ``seconds``; returns the thread CPU it used."""
    cpu0 = time.thread_time()
    due = time.monotonic()
    for k in range(int(seconds * 1000 / FRAME_MS)):
        work(k, time.monotonic())
        due += FRAME_MS / 1000
        time.sleep(max(0.0, due - time.monotonic()))
    return time.thread_time() - cpu0


def opus_path(port: int, seconds: float) -> tuple[list[Way], float, float]:
    elder, officer = frames(speech_like(seconds, seed=7)), frames(speech_like(seconds, seed=5))
    ways = [Way("hub -> station", UP), Way("station -> hub", DOWN)]
    ends: dict[str, MqttEnd] = {}
    calls: dict[str, CallAudio] = {}
    io_cpu = [0.0]  # thread time spent in paho's publish, inside the audio callbacks

    def sender(end: str, way: Way) -> Callable[[bytes], None]:
        def publish(data: bytes) -> None:
            way.packets += 1
            way.packet += len(data)
            way.payload += len(decode_packet(data).payload)
            t0 = time.thread_time()
            ends[end].publish(way.topic, data)
            io_cpu[0] += time.thread_time() - t0
        return publish

    phones = {"hub": TickPhone(), "station": TickPhone()}
    calls["hub"] = CallAudio(phones["hub"], CALL, sender("hub", ways[0]), speakerphone_echo=True)
    calls["station"] = CallAudio(phones["station"], CALL, sender("station", ways[1]),
                                 speakerphone_echo=False)
    ends["station"] = MqttEnd(port, "station", UP, calls["station"].on_packet)
    ends["hub"] = MqttEnd(port, "hub", DOWN, calls["hub"].on_packet)
    for c in calls.values():
        c.start()

    def work(k: int, now: float) -> None:
        for end, mic, way in (("hub", elder, ways[1]), ("station", officer, ways[0])):
            phones[end].tick(mic[k % len(mic)])
            ts = calls[end].receiver.played_ts
            if ts is not None and k * FRAME_MS >= SETTLE_S * 1000:
                way.latency_ms.append((int(now * 1000) - ts) % TS_MOD)

    proc0 = time.process_time()
    try:
        dsp = ticks(seconds, work)
    finally:
        for c in calls.values():
            c.stop()
        for e in ends.values():
            e.close()
    for c in calls.values():
        print(f"  opus {'hub' if c.switch else 'station'} end: {c.stats} {c.receiver.stats}")
    return ways, dsp - io_cpu[0], time.process_time() - proc0


def pcm_path(port: int, seconds: float) -> tuple[list[Way], float, float]:
    mics = {"hub": frames(speech_like(seconds, seed=7)), "station": frames(speech_like(seconds, seed=5))}
    ways = {"hub": Way("hub -> station", PCM_UP), "station": Way("station -> hub", PCM_DOWN)}
    captured: dict[tuple[str, int], float] = {}
    arrived: dict[str, list[int]] = {"hub": [], "station": []}  # at that end, not yet played
    lock = threading.Lock()

    def arrive(end: str) -> Callable[[bytes], None]:
        def on_message(payload: bytes) -> None:
            (seq,) = struct.unpack_from(">I", payload)
            np.frombuffer(payload, np.int16, offset=4)  # what a player would take
            with lock:
                arrived[end].append(seq)
        return on_message

    ends = {"station": MqttEnd(port, "pcm-station", PCM_UP, arrive("station")),
            "hub": MqttEnd(port, "pcm-hub", PCM_DOWN, arrive("hub"))}

    def work(k: int, now: float) -> None:
        for end, other in (("hub", "station"), ("station", "hub")):
            with lock:  # everything that arrived since the last tick plays now
                played, arrived[end] = arrived[end], []
            for seq in played:
                if seq * FRAME_MS >= SETTLE_S * 1000:
                    ways[other].latency_ms.append((now - captured[other, seq]) * 1000)
            data = struct.pack(">I", k) + mics[end][k % len(mics[end])].tobytes()
            captured[end, k] = now
            ways[end].packets += 1
            ways[end].packet += len(data)
            ways[end].payload += FRAME * 2
            t0 = time.thread_time()
            ends[end].publish(ways[end].topic, data)
            io_cpu[0] += time.thread_time() - t0

    io_cpu = [0.0]
    proc0 = time.process_time()
    try:
        dsp = ticks(seconds, work)
    finally:
        for e in ends.values():
            e.close()
    return list(ways.values()), dsp - io_cpu[0], time.process_time() - proc0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    seconds = ap.parse_args().seconds
    with tempfile.TemporaryDirectory() as d, Mosquitto(Path(d) / "broker") as broker:
        opus, opus_cpu, opus_proc = opus_path(broker.port, seconds)
        pcm, pcm_cpu, pcm_proc = pcm_path(broker.port, seconds)
    print(f"{seconds:.0f} s full-duplex call, broker 127.0.0.1:{broker.port}, QoS 0; latency after "
          f"the first {SETTLE_S:.0f} s, capture -> playout excluding the sound card")
    print(f"{'path':<5} {'direction':<15} {'p50':>6} {'p95':>6} {'p99':>6} {'frames':>6} "
          f"{'payload':>8} {'packet':>8} {'MQTT':>8} {'+TCP/IP':>8}")
    print(f"{'':<21} {'ms':>6} {'ms':>6} {'ms':>6} {'':>6} {'kbit/s':>8} {'kbit/s':>8} {'kbit/s':>8} "
          f"{'kbit/s':>8}")
    for path, ways in (("opus", opus), ("pcm", pcm)):
        for w in ways:
            print(w.row(path, seconds))
    def ms(cpu: float) -> str:
        return f"{cpu / seconds * 1000:.1f} ms/s"

    print(f"CPU per call-second, both ends, without paho's publish: opus {ms(opus_cpu)} (whole "
          f"process {ms(opus_proc)}); pcm {ms(pcm_cpu)} (whole process {ms(pcm_proc)})")
    worst, bare = (max(pct(w.latency_ms, 99) for w in ways) for ways in (opus, pcm))
    print(f"mouth-to-ear p99 excluding the sound card: opus {worst + FRAME_MS + LOOKAHEAD_MS:.1f} ms "
          f"(target <= 150 ms), pcm {bare + FRAME_MS:.1f} ms (framing {FRAME_MS} ms and Opus "
          f"lookahead {LOOKAHEAD_MS} ms added)")


if __name__ == "__main__":
    main()
