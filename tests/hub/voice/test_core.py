"""The voice core, part by part: packet format (with hypothesis), Opus codec with PLC and FEC,
jitter buffer on a fake clock, AGC, Sender/Receiver and CallAudio on a fake and a loopback
speakerphone."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.voice import FRAME, FRAME_MS, RATE, codec
from hub.voice.call_audio import CallAudio
from hub.voice.codec import OpusDecoder, OpusEncoder, OpusUnavailable
from hub.voice.jitter import JitterBuffer, Playout
from hub.voice.loudness import Agc, level_db
from hub.voice.packet import (
    MAX_CALL,
    MAX_PAYLOAD,
    VERSION,
    VoiceError,
    VoicePacket,
    decode_packet,
    encode_packet,
)
from hub.voice.pipeline import Receiver, Sender
from tests.support.voicesig import Clock, aligned, frames, speech_like

props = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow])

# --- packet ---------------------------------------------------------------------------------

calls = (st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=16)
         | st.binary(min_size=1, max_size=MAX_CALL // 2).map(bytes.hex))  # the station's ids
packets = st.builds(VoicePacket, call=calls, seq=st.integers(0, 0xFFFF), ts_ms=st.integers(0, 2**32 - 1),
                    payload=st.binary(min_size=1, max_size=MAX_PAYLOAD), marker=st.booleans())


def decode_or_refuse(data: bytes) -> VoicePacket | None:
    """A packet, or None for a VoiceError with a one-line reason; anything else fails."""
    try:
        return decode_packet(data)
    except VoiceError as e:
        assert str(e) and "\n" not in str(e) and len(str(e)) < 200
        return None


@props
@given(packets)
def test_packet_round_trip(p: VoicePacket) -> None:
    data = encode_packet(p)
    assert decode_packet(data) == p
    packed = all(c in "0123456789abcdef" for c in p.call) and len(p.call) % 2 == 0
    assert len(data) == 9 + (len(p.call) // 2 if packed else len(p.call.encode())) + len(p.payload)


@props
@given(st.binary(max_size=1500))
def test_garbage_raises_only_voice_error(data: bytes) -> None:
    p = decode_or_refuse(data)
    assert p is None or encode_packet(p) == data  # whatever is accepted is exactly a packet


@props
@given(packets, st.data())
def test_damaged_packet_raises_only_voice_error(p: VoicePacket, data: st.DataObject) -> None:
    raw = bytearray(encode_packet(p))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    q = decode_or_refuse(bytes(raw[:cut]))
    assert q is None or encode_packet(q) == bytes(raw[:cut])


GOOD = encode_packet(VoicePacket("call-1", 7, 1234, b"\x78\x01\x02"))


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "truncated"),
    (GOOD[:12], "truncated"),
    (GOOD[:-3], "truncated"),
    (bytes([0xA2]) + GOOD[1:], "bad version"),
    (b"{" + GOOD[1:], "bad version"),  # someone sent JSON
    (GOOD[:1] + b"\x80" + GOOD[2:], "unknown flags"),
    (GOOD[:2] + b"\x00" + GOOD[3:], "bad call id length"),
    (GOOD[:2] + bytes([MAX_CALL + 1]) + GOOD[3:], "bad call id length"),
    (GOOD[:3] + b"\xff" + GOOD[4:], "not UTF-8"),
    (GOOD[:3] + b"\x07" + GOOD[4:], "control characters"),
    (GOOD + b"x" * MAX_PAYLOAD, "oversize"),
    (bytes([VERSION, 0, 2]) + b"ab" + GOOD[9:], "sent unpacked"),  # one encoding per id
    (bytes([VERSION, 0x02, 33]) + bytes(33) + GOOD[9:], "bad call id length"),
])
def test_bad_packets_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(VoiceError, match=reason):
        decode_packet(data)


@pytest.mark.parametrize(("p", "reason"), [
    (VoicePacket("", 0, 0, b"x"), "bad call id"),
    (VoicePacket("x" * (MAX_CALL + 1), 0, 0, b"x"), "bad call id"),
    (VoicePacket("\ud800", 0, 0, b"x"), "not encodable"),
    (VoicePacket("c", 65536, 0, b"x"), "seq"),
    (VoicePacket("c", -1, 0, b"x"), "seq"),
    (VoicePacket("c", 0, 2**32, b"x"), "ts_ms"),
    (VoicePacket("c", 0, 0, b""), "payload"),
    (VoicePacket("c", 0, 0, b"x" * (MAX_PAYLOAD + 1)), "payload"),
])
def test_encode_refuses_out_of_range(p: VoicePacket, reason: str) -> None:
    with pytest.raises(VoiceError, match=reason):
        encode_packet(p)


def test_packet_layout() -> None:
    """The documented byte layout (docs/voice.md), written out."""
    data = encode_packet(VoicePacket("k1", 0x0102, 0x03040506, b"\xaa", marker=True))
    assert data == bytes([VERSION, 0x01, 2]) + b"k1" + bytes([1, 2, 3, 4, 5, 6, 0xAA])
    uuid_hex = "0123456789abcdef" * 2  # hub.common.events.new_id(): packed, 16 bytes not 32
    data = encode_packet(VoicePacket(uuid_hex, 0, 0, b"\xaa"))
    assert data == bytes([VERSION, 0x02, 16]) + bytes.fromhex(uuid_hex) + bytes(6) + b"\xaa"


# --- codec ----------------------------------------------------------------------------------


def test_codec_round_trip_and_bitrate() -> None:
    speech = speech_like(3.0)
    enc, dec = OpusEncoder(), OpusDecoder()
    payloads = [enc.encode(f) for f in frames(speech)]
    out = np.concatenate([dec.decode(p) for p in payloads])
    kbps = sum(map(len, payloads)) * 8 / 3.0 / 1000
    corr, snr = aligned(speech, out)
    print(f"Opus 20 kbit/s VOIP: {kbps:.1f} kbit/s payload, corr {corr:.3f}, SNR {snr:.1f} dB")
    assert kbps <= 24
    assert corr >= 0.9


def test_fec_rebuilds_a_lost_frame_better_than_concealment() -> None:
    enc = OpusEncoder()
    payloads = [enc.encode(f) for f in frames(speech_like(3.0))]
    ref = OpusDecoder()
    clean = [ref.decode(p) for p in payloads]
    err_fec = err_plc = 0.0
    for k in range(20, len(payloads) - 1, 10):  # one frame lost in each run
        for use_fec in (True, False):
            dec = OpusDecoder()
            for p in payloads[k - 10:k]:
                dec.decode(p)
            got = dec.recover(payloads[k + 1]) if use_fec else dec.conceal()
            err = float(np.sum((got.astype(float) - clean[k]) ** 2))
            if use_fec:
                err_fec += err
            else:
                err_plc += err
    print(f"lost-frame error: FEC {10 * np.log10(err_fec):.1f} dB, PLC {10 * np.log10(err_plc):.1f} dB")
    assert err_fec < 0.5 * err_plc


def test_decoder_refuses_bad_frames() -> None:
    with pytest.raises(VoiceError, match="undecodable"):
        OpusDecoder().decode(b"\x03")  # TOC code 3 without its frame count byte
    with pytest.raises(VoiceError, match="320 mono samples"):
        OpusEncoder().encode(np.zeros(160, np.int16))
    with pytest.raises(ValueError, match="bitrate"):
        OpusEncoder(bitrate=64_000)


def test_missing_libopus_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_lib(name: str) -> Any:
        raise Exception("Could not find Opus library. Make sure it is installed.")

    monkeypatch.setattr(importlib, "import_module", no_lib)
    with pytest.raises(OpusUnavailable, match="apt install libopus0"):
        codec.OpusDecoder()


# --- jitter buffer --------------------------------------------------------------------------


class Net:
    """A fake clock and a jitter buffer with a 20 ms sender (seq and ts from frame numbers)."""

    def __init__(self, seq0: int = 0, ts0: int = 10_000) -> None:
        self.clock = Clock()
        self.jb = JitterBuffer(clock=self.clock)
        self.seq0, self.ts0 = seq0, ts0

    def send(self, i: int, marker: bool = False) -> None:
        self.jb.push((self.seq0 + i) % 65536, (self.ts0 + i * FRAME_MS) % 2**32, b"%d" % i, marker)

    def run(self, arrivals: dict[int, list[int]], pulls: int, t0_ms: float = 0) -> list[Playout | None]:
        """At each 20 ms tick: deliver the packets due (``arrivals[tick]``), then pull once."""
        out = []
        for k in range(pulls):
            self.clock.t = (t0_ms + k * FRAME_MS) / 1000
            for i in arrivals.get(k, []):
                self.send(i)
            out.append(self.jb.pull())
        return out


def played(out: list[Playout | None]) -> list[int]:
    return [int(p.payload) for p in out if p and p.payload]


def test_steady_stream_starts_at_40_ms_then_settles_at_the_floor() -> None:
    net = Net()
    out = net.run({k: [k] for k in range(100)}, 103)
    assert out[:2] == [None, None]  # 40 ms of buffering first
    assert net.jb.target_ms == 20  # no jitter: the floor
    skipped = [p.skipped for p in out if p and p.skipped]
    assert skipped == [(b"50",)]  # after a second, the spare frame is dropped (decoded unheard)
    assert played(out) == [k for k in range(100) if k != 50]
    assert net.jb.counts["lost"] == net.jb.counts["late"] == 0
    assert net.jb.delay_ms == 20


def test_reordered_and_duplicate_packets() -> None:
    net = Net()
    arrivals = {k: [k] for k in range(50)}
    arrivals[10], arrivals[11] = [11, 10], [11, 10, 10]  # swapped, then repeated
    out = net.run(arrivals, 55)
    assert played(out) == list(range(50))
    assert net.jb.counts["duplicate"] == 3
    assert net.jb.counts["lost"] == 0


def test_lost_frame_is_rebuilt_from_the_next_packets_fec() -> None:
    net = Net()
    out = net.run({k: [k] for k in range(30) if k != 12}, 35)
    gap = [p for p in out if p and p.payload is None and p.fec]
    assert gap == [Playout(None, fec=b"13")]
    assert net.jb.counts["lost"] == net.jb.counts["recovered"] == 1
    assert played(out) == [k for k in range(30) if k != 12]


def test_late_packet_is_dropped_and_counted() -> None:
    net = Net()
    arrivals = {k: [k] for k in range(40) if k != 10}
    arrivals[20].append(10)  # 200 ms late: its turn has passed
    out = net.run(arrivals, 45)
    assert net.jb.counts["late"] == 1
    assert played(out) == [k for k in range(40) if k != 10]


def test_sequence_and_timestamp_wrap() -> None:
    net = Net(seq0=65_500, ts0=2**32 - 500)
    out = net.run({k: [k] for k in range(100)}, 103)
    assert played(out) == [k for k in range(100) if k != 50]  # 50: the start's spare frame
    assert net.jb.counts["lost"] == 0


def test_target_follows_jitter_within_bounds() -> None:
    rng = np.random.default_rng(1)
    for spread, low, high in ((60, 50, 90), (120, 100, 150), (1000, 200, 200)):
        net = Net()
        arrivals: dict[int, list[int]] = {}
        for i in range(300):
            arrivals.setdefault(i + int(rng.uniform(0, spread) // FRAME_MS), []).append(i)
        out = net.run(arrivals, 300 + spread // FRAME_MS + 20)
        print(f"jitter spread {spread} ms: target {net.jb.target_ms:.0f} ms, {net.jb.stats}")
        assert low <= net.jb.target_ms <= high
        if spread <= 120:
            assert net.jb.counts["late"] <= 0.03 * 300  # the target covers the jitter
            assert played(out) == sorted(set(played(out)))


def test_backlog_after_a_stall_is_dropped_so_delay_does_not_creep() -> None:
    net = Net()
    arrivals: dict[int, list[int]] = {k: [k] for k in range(50)}
    arrivals[100] = list(range(50, 101))  # 1 s stall on the link, then the burst
    arrivals.update({k: [k] for k in range(101, 300)})
    net.run(arrivals, 300)
    assert net.jb.counts["dropped"] >= 30
    assert net.jb.delay_ms <= net.jb.target_ms + 30


def test_underrun_conceals_briefly_then_stops() -> None:
    net = Net()
    arrivals: dict[int, list[int]] = {k: [k] for k in range(20)}
    arrivals.update({k: [k] for k in range(60, 100)})  # 0.8 s of packets lost on the way
    out = net.run(arrivals, 100)
    gap = out[22:61]
    assert gap[:5] == [Playout(None)] * 5  # concealed in place, then silence
    assert gap[5:] == [None] * (len(gap) - 5)
    assert played(out) == [*range(20), *range(60, 99)]
    assert net.jb.counts["lost"] == 40 and net.jb.counts["concealed"] == 5


def test_marker_packet_stops_concealment_at_once() -> None:
    net = Net()
    net.run({k: [k] for k in range(20)}, 23)
    net.clock.t = 23 * FRAME_MS / 1000
    assert net.jb.pull() == Playout(None)  # starving: one frame concealed
    net.clock.t += 0.02
    net.jb.push(20, 10_000 + 480, b"20", marker=True)  # back from mute: captured just now
    assert net.jb.pull() is None  # rebuffering, not concealing
    net.clock.t += 0.04
    assert net.jb.pull() == Playout(b"20", ts_ms=10_480)
    assert net.jb.counts["lost"] == 0


def test_restarted_sender_resyncs() -> None:
    net = Net()
    net.run({k: [k] for k in range(20)}, 22)
    net.seq0 += 1000  # far beyond anything a jitter buffer holds
    out = net.run({k: [k + 22] for k in range(40)}, 40, t0_ms=22 * FRAME_MS)
    assert net.jb.counts["resync"] == 1
    assert played(out) == list(range(22, 61))[: len(played(out))] and len(played(out)) >= 35
    assert net.jb.counts["lost"] == 0


# --- loudness -------------------------------------------------------------------------------


def run_agc(agc: Agc, x: np.ndarray, **kw: Any) -> np.ndarray:
    return np.concatenate([agc.process(f, **kw) for f in frames(x)])


def scaled(x: np.ndarray, db: float) -> np.ndarray:
    return np.clip(x.astype(float) * 10 ** (db / 20), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("db", [-25.0, -12.0, 0.0, 14.0])  # speech at -45 .. -6 dBFS RMS
def test_agc_brings_speech_to_the_target_without_clipping(db: float) -> None:
    speech = speech_like(8.0)
    out = run_agc(agc := Agc(), scaled(speech, db))
    settled = out[4 * RATE:]
    peak = 20 * np.log10(np.max(np.abs(settled.astype(float))) / 32768)
    print(f"input {level_db(scaled(speech, db)):.1f} dBFS -> {level_db(settled):.1f} dBFS, "
          f"gain {agc.gain_db:.1f} dB, peak {peak:.1f} dBFS")
    assert -30 <= level_db(settled) <= -20  # -18 dBFS peak envelope: ~-25 RMS with pauses
    assert np.max(np.abs(out.astype(int))) <= 32768 * 10 ** (-1 / 20) + 1


def test_limiter_catches_a_sudden_shout() -> None:
    agc = Agc()
    run_agc(agc, scaled(speech_like(3.0), -20))  # soft: gain goes up
    shout = scaled(speech_like(0.5, seed=2), 14)
    out = run_agc(agc, shout)
    assert np.max(np.abs(out.astype(int))) <= 32768 * 10 ** (-1 / 20) + 1


def test_gate_does_not_amplify_room_noise() -> None:
    rng = np.random.default_rng(0)
    agc = Agc()
    run_agc(agc, scaled(speech_like(6.0), -20))  # soft speech: the gain is high
    assert agc.gain_db > 10
    noise = (rng.standard_normal(3 * RATE) * 32768 * 10 ** (-60 / 20)).astype(np.int16)
    out = run_agc(agc, noise)
    assert level_db(out[RATE:]) <= level_db(noise) - 12


def test_agc_held_never_amplifies() -> None:
    agc = Agc()
    run_agc(agc, scaled(speech_like(4.0), -20))
    loud = scaled(speech_like(1.0, seed=3), -20)
    out = run_agc(agc, loud, adapt=False)
    assert level_db(out) <= level_db(loud) + 0.1


# --- Sender / Receiver ----------------------------------------------------------------------


def test_sender_numbers_packets_and_marks_talk_spurts() -> None:
    clock = Clock()
    tx = Sender("c1", clock=clock)
    silence = np.zeros(FRAME, np.int16)
    got = []
    for i in range(3):
        clock.t = 5.0 + i * 0.02
        got.append(decode_packet(tx.push(silence)))
    tx.pause()
    got.append(decode_packet(tx.push(silence)))
    assert [p.seq for p in got] == [0, 1, 2, 3]
    assert [p.ts_ms for p in got[:3]] == [5000, 5020, 5040]
    assert [p.marker for p in got] == [True, False, False, True]
    assert tx.packets == 4 and tx.bytes == sum(len(encode_packet(p)) for p in got)


def test_receiver_counts_bad_input_and_never_raises() -> None:
    clock = Clock()
    rx = Receiver("c1", clock=clock)
    rx.push(b"\x00garbage")
    rx.push(encode_packet(VoicePacket("other", 0, 0, b"x")))
    rx.push(encode_packet(VoicePacket("c1", 0, 0, b"\x03")))  # not Opus
    for k in range(5):
        clock.t = 0.02 * k + 0.1
        assert rx.pull().shape == (FRAME,)
    s = rx.stats
    assert (s["rejected"], s["foreign"], s["undecodable"], s["packets"]) == (1, 1, 1, 3)


# --- CallAudio ------------------------------------------------------------------------------


class FakePhone:
    """The Speakerphone's call methods; the test plays the audio thread."""

    def __init__(self) -> None:
        self.on_mic: Callable[[np.ndarray], None] | None = None
        self.far: Callable[[], np.ndarray] | None = None

    def start_call(self, on_mic: Callable[[np.ndarray], None], far: Callable[[], np.ndarray]) -> None:
        self.on_mic, self.far = on_mic, far

    def end_call(self) -> None:
        self.on_mic = self.far = None

    def tick(self, mic: np.ndarray) -> np.ndarray:
        assert self.on_mic and self.far
        self.on_mic(mic)
        return self.far()


def test_call_audio_sends_mutes_and_sets_volume() -> None:
    clock = Clock()
    sent: list[bytes] = []
    phone = FakePhone()
    call = CallAudio(phone, "c9", sent.append, speakerphone_echo=False, clock=clock)
    call.start()
    far_tx = Sender("c9", clock=clock)
    speech, far_speech = speech_like(2.0), speech_like(2.0, seed=5)
    played_at: dict[float, list[np.ndarray]] = {1.0: [], 0.5: []}
    for k, (mine, theirs) in enumerate(zip(frames(speech), frames(far_speech), strict=True)):
        clock.t = k * 0.02
        call.on_packet(far_tx.push(theirs))
        call.volume = 1.0 if k < 50 else 0.5
        call.muted = 40 <= k < 60
        out = phone.tick(mine)
        if 20 <= k < 40 or 70 <= k < 90:
            played_at[call.volume].append(out)
    got = [decode_packet(d) for d in sent]
    assert len(got) == 100 - 20  # nothing while muted
    assert {p.call for p in got} == {"c9"}
    assert [p.seq for p in got] == list(range(80))
    assert [p.seq for p in got if p.marker] == [0, 40]  # unmuting starts a talk spurt
    loud, soft = (level_db(np.concatenate(played_at[v])) for v in (1.0, 0.5))
    assert loud - soft == pytest.approx(6.0, abs=2.0)
    s = call.stats
    assert s["sent_packets"] == 80 and s["received_packets"] == 100 and s["lost"] == 0
    call.volume = 7
    assert call.volume == 2.0
    call.stop()
    assert phone.on_mic is None


def test_call_audio_counts_publish_failures() -> None:
    def down(_: bytes) -> None:
        raise OSError("not connected")

    phone = FakePhone()
    call = CallAudio(phone, "c9", down, speakerphone_echo=True, clock=Clock())
    call.start()
    for f in frames(speech_like(0.2)):
        phone.tick(f)
    assert call.stats["send_errors"] == 10


def test_call_audio_reframes_odd_mic_blocks() -> None:
    sent: list[bytes] = []
    phone = FakePhone()
    CallAudio(phone, "c9", sent.append, speakerphone_echo=False, clock=Clock()).start()
    assert phone.on_mic
    for block in np.array_split(speech_like(1.0), 37):  # blocks of ~432 samples
        phone.on_mic(block)
    assert len(sent) == RATE // FRAME


def test_call_audio_on_a_loopback_speakerphone_cancels_echo() -> None:
    """The hub's whole call path on drivers.audio (V2's Speakerphone on a simulated room):
    with the officer talking and the elder silent, what the hub sends back is the echo of
    the officer's voice at least 25 dB down."""
    from drivers.audio.loopback import LoopbackAudio
    from drivers.audio.speakerphone import Speakerphone

    room = LoopbackAudio(realtime=False, echo_gain_db=-6, echo_delay_ms=8, noise_db=-70)
    clock = Clock()
    sent: list[bytes] = []
    with Speakerphone(room) as phone:
        call = CallAudio(phone, "c1", sent.append, speakerphone_echo=True, clock=clock)
        call.start()
        officer = Sender("c1", clock=clock)
        for k, f in enumerate(frames(speech_like(4.0, seed=5))):
            clock.t = k * 0.02
            call.on_packet(officer.push(f))
            room.step(1)
        call.stop()
    back = Receiver("c1", clock=clock)
    for k, d in enumerate(sent):
        clock.t = 10 + k * 0.02
        back.push(d)
    heard = np.concatenate([back.pull() for _ in range(len(sent) + 5)])
    echo_db = level_db(room.played) - 6  # the echo's level at the mic
    print(f"echo at the mic {echo_db:.1f} dBFS, sent {level_db(heard):.1f} dBFS, "
          f"switch frames {call.switch.frames if call.switch else None}")
    assert echo_db - level_db(heard) >= 25
