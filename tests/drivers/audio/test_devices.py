"""Audio devices: the resampler's accuracy, the sound card's errors and rate choice, the loopback room.

The real backend is tested on a machine without a sound card: what it says when there is
none, or no PortAudio; its rate choice and block path run against a stand-in for the
sounddevice module (a card that does 48 kHz only).
"""

from __future__ import annotations

import importlib.abc
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from drivers.audio import AudioUnavailable, NoDevice, NoPortAudio, UnsupportedSettings
from drivers.audio import device as device_mod
from drivers.audio.device import SoundDevice, list_devices
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.resample import Resampler, resample
from drivers.audio.wavfile import read_wav, write_wav

AMP = 16000.0


def sine(hz: float, rate: int, seconds: float = 1.0, amp: float = AMP) -> np.ndarray:
    return np.rint(amp * np.sin(2 * np.pi * hz * np.arange(round(rate * seconds)) / rate)).astype(np.int16)


def tone_fit(y: np.ndarray, rate: int, hz: float) -> tuple[float, float]:
    """Amplitude of the tone at ``hz`` in ``y`` and the SNR (dB) of everything else against it."""
    t = np.arange(len(y)) / rate
    basis = np.stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, y.astype(float), rcond=None)
    fitted = basis @ coef
    rest = y - fitted
    return float(np.hypot(*coef)), float(10 * np.log10(np.mean(fitted**2) / np.mean(rest**2)))


def streamed(r: Resampler, x: np.ndarray, block: int) -> list[np.ndarray]:
    return [r.process(x[i:i + block]) for i in range(0, len(x), block)]


# --- resampler ---------------------------------------------------------------------------------

RATE_PAIRS = [(48000, 16000), (16000, 48000), (44100, 16000), (16000, 44100), (22050, 16000)]


@pytest.mark.parametrize(("rate_in", "rate_out", "hz"), [
    (48000, 16000, 1000), (48000, 16000, 6800), (16000, 48000, 1000), (16000, 48000, 6800),
    (44100, 16000, 440), (16000, 44100, 3000), (22050, 16000, 250), (22050, 16000, 5000)])
def test_a_tone_comes_out_as_the_same_tone(rate_in: int, rate_out: int, hz: int) -> None:
    r = Resampler(rate_in, rate_out)
    y = np.concatenate(streamed(r, sine(hz, rate_in), rate_in // 50))  # 20 ms, as a card gives them
    assert len(y) == rate_out
    amp, snr = tone_fit(y[r.lag + rate_out // 20:], rate_out, hz)  # past the silence and onset
    print(f"{rate_in} -> {rate_out} Hz, {hz} Hz tone: SNR {snr:.1f} dB, gain "
          f"{20 * np.log10(amp / AMP):+.3f} dB, delay {r.delay_s * 1e3:.2f} ms")
    assert snr > 85  # 16-bit rounding in and out allows ~92 at this level
    assert abs(20 * np.log10(amp / AMP)) < 0.05


@pytest.mark.parametrize("hz", [8300, 10000, 15000, 23000])
def test_what_a_16k_stream_cannot_carry_is_filtered_not_folded_back(hz: int) -> None:
    r = Resampler(48000, 16000)
    y = r.process(sine(hz, 48000))[r.lag + 800:].astype(float)
    level = 20 * np.log10(max(np.sqrt(np.mean(y**2)), 1e-9) / (AMP / np.sqrt(2)))
    assert level < -90, f"{hz} Hz folded back at {level:.1f} dB"


@pytest.mark.parametrize(("rate_in", "rate_out"), RATE_PAIRS)
def test_every_block_gives_exactly_its_share_and_a_click_comes_out_delay_s_later(
        rate_in: int, rate_out: int) -> None:
    r = Resampler(rate_in, rate_out)
    x = np.zeros(rate_in * 12, np.int16)  # past the 5 s after which 20 ms blocks' pattern repeats
    x[rate_in * 6] = 30000
    blocks = streamed(r, x, rate_in // 50)
    assert {len(b) for b in blocks} == {rate_out // 50}  # 960 at 48 kHz -> 320 at 16 kHz, ...
    assert r.underruns == 0
    print(f"{rate_in} -> {rate_out} Hz: delay {r.delay_s * 1e3:.2f} ms ({r.lag} samples)")
    assert int(np.argmax(np.concatenate(blocks))) == rate_out * 6 + r.lag
    assert r.delay_s == r.lag / rate_out < 0.06  # 36.6 ms at 48 kHz, 57.7 ms for 16k -> 44.1k


def test_blocks_of_any_size_give_the_same_samples_as_one_call() -> None:
    x = (np.random.default_rng(1).normal(0, 5000, 96000)).astype(np.int16)
    whole = Resampler(48000, 16000).process(x)
    assert len(whole) == 32000
    r = Resampler(48000, 16000)
    cuts = np.cumsum(np.random.default_rng(2).integers(1, 1500, 200))
    parts = [r.process(p) for p in np.split(x, cuts[cuts < len(x)])]
    assert [len(p) for p in parts] == [b - a for a, b in itertools.pairwise(
        [0, *(c * 16000 // 48000 for c in cuts[cuts < len(x)]), 32000])]
    assert np.array_equal(np.concatenate(parts), whole) and r.underruns == 0


def test_blocks_longer_behind_than_measured_are_filled_with_silence_and_counted() -> None:
    r = Resampler(48000, 16000, block=48000)  # measured for 1 s blocks, given 20 ms ones
    measured = r.lag
    blocks = streamed(r, sine(1000, 48000, 2.0), 960)
    assert {len(b) for b in blocks} == {320}
    assert r.underruns > 0 and r.lag > measured


def test_a_whole_clip_is_resampled_in_place() -> None:
    x = np.zeros(22050, np.int16)
    x[11025] = 30000  # a click half-way through
    y = resample(x, 22050, 16000)
    assert len(y) == 16000
    assert int(np.argmax(y)) == 8000
    tone = resample(sine(5000, 22050), 22050, 16000)[800:-800]  # past the clip's abrupt edges
    amp, snr = tone_fit(tone, 16000, 5000)
    assert snr > 85 and abs(amp / AMP - 1) < 0.001


def test_wav_files_round_trip_and_are_converted(tmp_path: Path) -> None:
    x = sine(1000, 48000, 0.5)
    write_wav(tmp_path / "a.wav", x, 48000)
    same, rate = read_wav(tmp_path / "a.wav")
    assert rate == 48000 and np.array_equal(same, x)
    y, rate = read_wav(tmp_path / "a.wav", 16000)
    assert rate == 16000 and len(y) == 8000
    assert tone_fit(y, 16000, 1000)[1] > 60
    (tmp_path / "bad.wav").write_bytes(b"RIFF nothing")
    with pytest.raises(ValueError, match=r"bad\.wav: not a PCM WAV"):
        read_wav(tmp_path / "bad.wav")


# --- the sound card ------------------------------------------------------------------------------

def _has_devices() -> bool:
    import sounddevice as sd  # type: ignore[import-untyped]

    return bool(len(sd.query_devices()))


def test_no_device_says_what_to_plug_in() -> None:
    if _has_devices():
        pytest.skip("this machine has audio devices")
    with pytest.raises(NoDevice) as e:
        SoundDevice()
    assert str(e.value) == "no input device: plug in the USB speakerphone; `arecord -l` must list it"
    with pytest.raises(NoDevice, match=r"no input device 'Jabra' .*`anxin audio devices` lists them"):
        SoundDevice(input="Jabra")
    assert "plug in the USB speakerphone" in list_devices()


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Imports sounddevice as a machine without libportaudio2 does: OSError."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")


def test_missing_portaudio_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice")
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    for attempt in (SoundDevice, list_devices):
        with pytest.raises(NoPortAudio) as e:
            attempt()
        assert str(e.value) == ("PortAudio does not load (PortAudio library not found): "
                                "sudo apt install libportaudio2")
        assert isinstance(e.value, AudioUnavailable)


class FakePortAudio:
    """The parts of sounddevice SoundDevice uses, for a card of the given rates and channels."""

    class PortAudioError(Exception):
        pass

    def __init__(self, rates: tuple[int, ...] = (48000,), out_channels: tuple[int, ...] = (1, 2)) -> None:
        self.rates, self.out_channels = rates, out_channels
        self.devices = [
            {"index": 0, "name": "HDMI", "max_input_channels": 0, "max_output_channels": 8,
             "default_samplerate": 48000.0},
            {"index": 1, "name": "USB Speakerphone: Audio (hw:1,0)", "max_input_channels": 1,
             "max_output_channels": 2, "default_samplerate": 48000.0}]
        self.default = SimpleNamespace(device=[1, 1])
        self.stream: Any = None

    def query_devices(self, device: Any = None, kind: str | None = None) -> Any:
        if device is None and kind is None:
            return self.devices
        d = self.devices[self.default.device[0] if device is None else device]
        if kind and d[f"max_{kind}_channels"] < 1:
            raise ValueError(f"Not an {kind} device: {d['name']!r}")
        return d

    def check_input_settings(self, device: int, channels: int, dtype: str,
                             samplerate: int | None = None) -> None:
        if samplerate not in (None, *self.rates):
            raise self.PortAudioError("Invalid sample rate [PaErrorCode -9997]")

    def check_output_settings(self, device: int, channels: int, dtype: str,
                              samplerate: int | None = None) -> None:
        self.check_input_settings(device, channels, dtype, samplerate)
        if channels not in self.out_channels:
            raise self.PortAudioError("Invalid number of channels [PaErrorCode -9998]")

    def Stream(self, **kw: Any) -> Any:  # sounddevice's name
        fake = self

        class Stream:
            def __init__(self) -> None:
                self.kw, self.running = kw, False
                fake.stream = self

            def start(self) -> None:
                self.running = True

            def stop(self) -> None:
                self.running = False

            def close(self) -> None:
                pass

        return Stream()


@pytest.fixture
def card(monkeypatch: pytest.MonkeyPatch) -> FakePortAudio:
    fake = FakePortAudio()
    monkeypatch.setattr(device_mod, "portaudio", lambda: fake)
    return fake


def test_a_48k_card_is_run_at_48k_and_resampled_both_ways(card: FakePortAudio) -> None:
    dev = SoundDevice()
    assert dev.card_rate == 48000
    assert str(dev) == ("input #1 USB Speakerphone: Audio (hw:1,0) (1 ch), output #1 USB "
                        "Speakerphone: Audio (hw:1,0) (1 ch), card at 48000 Hz, resampled to 16000 Hz")
    heard: list[np.ndarray] = []

    def echo(mic: np.ndarray) -> np.ndarray:  # plays back what it hears
        heard.append(mic.copy())
        return mic

    dev.start(echo)
    kw = card.stream.kw
    assert (kw["samplerate"], kw["blocksize"], kw["dtype"], kw["channels"]) == (48000, 960, "int16", (1, 1))
    x = sine(1000, 48000)
    played = []
    for i in range(0, len(x), 960):
        outdata = np.zeros((960, 1), np.int16)
        kw["callback"](x[i:i + 960].reshape(-1, 1), outdata, 960, None, None)
        played.append(outdata[:, 0].copy())
    assert {len(h) for h in heard} == {320}
    amp, snr = tone_fit(np.concatenate(heard)[1600:], 16000, 1000)  # past ~37 ms of delay
    assert snr > 75 and abs(amp / AMP - 1) < 0.01
    amp, snr = tone_fit(np.concatenate(played)[4800:], 48000, 1000)  # through both ways
    assert snr > 70 and abs(amp / AMP - 1) < 0.01
    with pytest.raises(RuntimeError, match="already running"):
        dev.start(echo)
    dev.stop()
    assert not card.stream.running


def test_a_stereo_only_card_gets_mono_on_both_channels(card: FakePortAudio) -> None:
    card.rates, card.out_channels = (16000, 48000), (2,)
    dev = SoundDevice()
    assert dev.card_rate == 16000  # no resampling when the card takes the voice rate
    dev.start(lambda mic: np.full(320, 1234, np.int16))
    outdata = np.zeros((320, 2), np.int16)
    card.stream.kw["callback"](np.zeros((320, 1), np.int16), outdata, 320, None, None)
    assert card.stream.kw["channels"] == (1, 2)
    assert (outdata == 1234).all()


def test_a_failing_callback_plays_silence_and_is_counted(card: FakePortAudio) -> None:
    dev = SoundDevice()

    def broken(mic: np.ndarray) -> np.ndarray:
        raise ZeroDivisionError

    dev.start(broken)
    for _ in range(3):
        outdata = np.ones((960, 1), np.int16)
        card.stream.kw["callback"](np.zeros((960, 1), np.int16), outdata, 960, None, "output underflow")
        assert not outdata.any()
    assert (dev.errors, dev.xruns) == (3, 3)


def test_a_card_that_takes_no_usable_rate_says_so(card: FakePortAudio) -> None:
    card.rates = (32000,)
    with pytest.raises(UnsupportedSettings) as e:
        SoundDevice()
    assert "cannot run 16-bit at 16000 or 48000 or 44100 Hz" in str(e.value)
    assert "Invalid sample rate" in str(e.value) and "`anxin audio devices` lists them" in str(e.value)


def test_devices_are_listed_and_chosen_by_name(card: FakePortAudio) -> None:
    assert list_devices().splitlines() == [
        "    #  in out   rate  name   (> default input, < default output)",
        "    0   0   8  48000  HDMI",
        "><  1   1   2  48000  USB Speakerphone: Audio (hw:1,0)"]
    with pytest.raises(NoDevice, match=r"no input device 0 .*Not an input device: 'HDMI'"):
        SoundDevice(input=0)
    assert "output #0 HDMI" in str(SoundDevice(output=0))


# --- the loopback room --------------------------------------------------------------------------

def test_the_mic_hears_the_echo_one_block_plus_the_delay_later() -> None:
    room = LoopbackAudio(echo_gain_db=-6.0, echo_delay_ms=15, realtime=False)
    mics: list[np.ndarray] = []
    click = np.zeros(320, np.int16)
    click[10] = 20000

    def cb(mic: np.ndarray) -> np.ndarray:
        mics.append(mic)
        return click if len(mics) == 1 else np.zeros(320, np.int16)

    room.start(cb)
    assert room.step(5) == 5
    heard = np.concatenate(mics)
    at = int(np.argmax(np.abs(heard)))
    assert at == 10 + 320 + 240  # one block for the device, 15 ms for the room
    assert heard[at] == round(20000 * 10 ** (-6 / 20))
    assert np.array_equal(room.played[:320], click)


def listening(mics: list[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A callback that keeps what the mic hears and plays silence."""
    def cb(mic: np.ndarray) -> np.ndarray:
        mics.append(mic)
        return np.zeros(len(mic), np.int16)
    return cb


def test_noise_and_a_looped_source_make_up_the_mic() -> None:
    source = np.arange(500, dtype=np.int16)
    room = LoopbackAudio(source=source, realtime=False)
    mics: list[np.ndarray] = []
    room.start(listening(mics))
    room.step(4)
    assert np.array_equal(np.concatenate(mics), np.resize(source, 1280))
    room.speak(source[::-1].copy())  # someone else starts talking: from its first sample
    mics.clear()
    room.step(2)
    assert np.array_equal(np.concatenate(mics), np.resize(source[::-1], 640))
    noisy = LoopbackAudio(noise_db=-40.0, realtime=False, seed=3)
    mics.clear()
    noisy.start(listening(mics))
    noisy.step(50)
    rms_db = 20 * np.log10(np.sqrt(np.mean(np.concatenate(mics).astype(float) ** 2)) / 32768)
    assert -40.5 < rms_db < -39.5


def test_the_file_backend_reads_the_mic_and_writes_what_was_played(tmp_path: Path) -> None:
    write_wav(tmp_path / "voice.wav", sine(500, 48000, 0.1), 48000)  # converted on reading
    room = LoopbackAudio(source=tmp_path / "voice.wav", realtime=False)
    room.start(lambda mic: mic)  # plays what it hears
    assert room.step(5) == 5
    room.stop()
    assert room.step(3) == 0  # stopped: nothing runs, nothing is kept
    room.write_played(tmp_path / "played.wav")
    played, rate = read_wav(tmp_path / "played.wav")
    assert rate == 16000 and len(played) == 1600 and room.blocks == 5
    assert tone_fit(played, 16000, 500)[1] > 50


def test_the_realtime_clock_keeps_time() -> None:
    room = LoopbackAudio()
    room.start(lambda mic: mic)
    time.sleep(0.5)
    room.stop()
    blocks = room.blocks
    time.sleep(0.05)
    assert room.blocks == blocks  # nothing after stop()
    assert 20 <= blocks <= 30, blocks  # 25 blocks of 20 ms
    with pytest.raises(RuntimeError, match="realtime=False"):
        room.step()
