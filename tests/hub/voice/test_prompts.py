"""The prompts as audio files: one per key and language, made from today's texts, reproducible,
and played by the audio speaker within one block of say()."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.audio import AudioUnavailable
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone
from drivers.audio.wavfile import read_wav
from drivers.speaker.audio import AudioSpeaker
from drivers.speaker.tts import PEAK_DBFS, VOICES, RenderError, check_language, espeak_version
from hub.runtime.config import DEFAULT_PROMPTS
from hub.tools import prompts_render
from hub.tools.prompts_render import LANGUAGES, MANIFEST, digest, options
from hub.voice.prompts import PROMPTS

RENDER = "run `anxin prompts render` (after editing hub/voice/prompts.py)"
SILENT = 100  # below this a sample counts as silence (-50 dBFS)


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return dict(json.loads((DEFAULT_PROMPTS / MANIFEST).read_text(encoding="utf-8")))


def espeak_matches(manifest: dict[str, Any]) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt install espeak-ng)")
    if (version := espeak_version()) != manifest["espeak_ng"]:
        pytest.skip(f"espeak-ng {version} here, the files were made with {manifest['espeak_ng']}")


def test_every_prompt_has_a_file_made_from_its_current_text(manifest: dict[str, Any]) -> None:
    files = manifest["files"]
    for language in LANGUAGES:
        for key, texts in PROMPTS.items():
            name = f"{language}/{key}.wav"
            assert name in files, f"{name} missing: {RENDER}"
            entry = files[name]
            assert entry["text"] == texts[language], f"{name} says {entry['text']!r}: {RENDER}"
            made_from = {"text": texts[language], "voice": VOICES[language],
                         "options": options()}
            assert entry["sha256"] == digest(made_from), f"{name} made otherwise: {RENDER}"
    prompts = {n for n in files if not n.startswith("tones/")}
    assert prompts == {f"{lang}/{k}.wav" for lang in LANGUAGES for k in PROMPTS}, f"stale files: {RENDER}"


def test_the_files_are_those_the_manifest_describes(manifest: dict[str, Any]) -> None:
    on_disk = {str(p.relative_to(DEFAULT_PROMPTS)) for p in DEFAULT_PROMPTS.rglob("*.wav")}
    assert on_disk == set(manifest["files"]), RENDER
    for name, entry in manifest["files"].items():
        path = DEFAULT_PROMPTS / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["audio_sha256"], f"{name}: {RENDER}"
        samples, rate = read_wav(path)
        assert rate == 16000 and len(samples) / rate == pytest.approx(entry["seconds"], abs=0.001)
        audible = np.flatnonzero(np.abs(samples) > SILENT)
        assert len(audible) and (audible[-1] - audible[0]) / rate > 0.3, f"{name} is (nearly) silent"
        if "text" in entry:  # prompts peak at PEAK_DBFS
            peak_db = 20 * np.log10(np.max(np.abs(samples)) / 32767)
            assert peak_db == pytest.approx(PEAK_DBFS, abs=0.01)


def dominant_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def test_the_tones() -> None:
    chime, rate = read_wav(DEFAULT_PROMPTS / "tones/announce.wav")
    assert len(chime) == rate  # ~1 s
    assert dominant_hz(chime[:int(0.4 * rate)], rate) == pytest.approx(659.25, abs=3)  # ding
    assert dominant_hz(chime[int(0.5 * rate):int(0.9 * rate)], rate) == pytest.approx(523.25, abs=3)  # dong
    assert chime[-1] == 0  # rings out to silence, no click
    ring, rate = read_wav(DEFAULT_PROMPTS / "tones/ringback.wav")
    assert len(ring) == 5 * rate
    assert dominant_hz(ring[:rate], rate) == pytest.approx(450, abs=2)
    on = np.flatnonzero(np.abs(ring) > SILENT)
    assert (on[-1] - on[0]) / rate == pytest.approx(1.0, abs=0.02)  # 1 s on, 4 s off


def test_rendering_again_gives_the_same_bytes(manifest: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    espeak_matches(manifest)
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "retired_prompt.wav").write_bytes(b"old")
    ap = argparse.ArgumentParser()
    prompts_render.arguments(ap)
    a = ap.parse_args(["render", "--out", str(tmp_path), "--quiet"])
    t0 = time.perf_counter()
    assert a.fn(a) == 0
    took = time.perf_counter() - t0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(manifest['files'])} files ({len(PROMPTS)} prompts in zh_CN, en, 2 tones)")
    print(f"rendered {len(manifest['files'])} files in {took:.1f} s")
    assert not (tmp_path / "en" / "retired_prompt.wav").exists()
    for name in manifest["files"]:
        assert (tmp_path / name).read_bytes() == (DEFAULT_PROMPTS / name).read_bytes(), name
    assert (tmp_path / MANIFEST).read_bytes() == (DEFAULT_PROMPTS / MANIFEST).read_bytes()


def test_a_voice_that_would_read_pinyin_as_english_is_refused(manifest: dict[str, Any]) -> None:
    espeak_matches(manifest)
    with pytest.raises(RenderError, match="would read part of '你好' as en"):
        check_language("你好", "cmn")  # espeak-ng 1.51's "cmn": "ni three hao three"
    check_language("你好", VOICES["zh_CN"])


# --- the audio speaker --------------------------------------------------------------------------

def speaker(room: LoopbackAudio, language: str = "zh_CN", folder: Path = DEFAULT_PROMPTS) -> AudioSpeaker:
    return AudioSpeaker(Speakerphone(room), folder, language)


def queued(phone: Speakerphone) -> None:
    deadline = time.monotonic() + 5
    while phone.idle():
        assert time.monotonic() < deadline, "say() never reached the speakerphone"
        time.sleep(0.001)


def test_say_plays_the_file_within_one_block() -> None:
    room = LoopbackAudio(realtime=False)
    voice = speaker(room)
    clip, _ = read_wav(DEFAULT_PROMPTS / "zh_CN/call_sent.wav")
    assert np.array_equal(voice.clips["call_sent"], clip)  # loaded as rendered: same rate
    t0 = time.perf_counter()
    voice.say("call_sent", PROMPTS["call_sent"]["zh_CN"])
    returned_ms = (time.perf_counter() - t0) * 1e3
    queued(voice.phone)
    blocks = 0
    while not (np.abs(room.played) > SILENT).any():
        blocks += room.step(1)
        assert blocks < 100
    first = int(np.flatnonzero(np.abs(room.played) > SILENT)[0])
    lead_in = int(np.flatnonzero(np.abs(clip) > SILENT)[0])
    # A block leaves the speaker one block after the callback made it: say() -> the clip's
    # first sample out is one block; its first audible sample, the file's own lead-in later.
    latency_ms = (room.block + first - lead_in) / room.rate * 1e3
    print(f"say() returned in {returned_ms:.2f} ms; say() -> first sample of the prompt out: "
          f"{latency_ms:.0f} ms (1 block = {room.block / room.rate * 1e3:.0f} ms); first audible "
          f"sample {(room.block + first) / room.rate * 1e3:.0f} ms (the file's lead-in "
          f"{lead_in / room.rate * 1e3:.0f} ms)")
    assert first == lead_in and latency_ms == 20.0
    room.step(len(clip) // 320 + 1)
    assert np.array_equal(room.played[:len(clip)], clip)
    assert [k for _, k, _ in voice.heard] == ["call_sent"]


class Counting(Speakerphone):
    handed = 0

    def play(self, clip: np.ndarray) -> float:
        seconds = super().play(clip)
        self.handed += 1
        return seconds


def test_prompts_and_tones_play_in_order_converted_to_the_phone_rate() -> None:
    room = LoopbackAudio(rate=8000, block=160, realtime=False)
    phone = Counting(room)
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "en")
    prompt = voice.clips["officer_on_line"]
    rendered = read_wav(DEFAULT_PROMPTS / "en/officer_on_line.wav")[0]
    assert len(prompt) == pytest.approx(len(rendered) / 2, abs=1)  # 16 kHz -> 8 kHz
    assert voice.tone("announce") == pytest.approx(1.0)
    voice.say("officer_on_line", PROMPTS["officer_on_line"]["en"])
    deadline = time.monotonic() + 5
    while phone.handed < 2:
        assert time.monotonic() < deadline, "say() never reached the speakerphone"
        time.sleep(0.001)
    room.step((8000 + len(prompt)) // 160 + 1)
    played = room.played
    assert dominant_hz(played[:3000], 8000) == pytest.approx(659.25, abs=5)  # the chime first
    n = len(voice.tones["announce"])
    assert np.array_equal(played[n:n + len(prompt)], prompt)  # then the prompt, right after


def test_a_missing_file_or_a_dead_device_is_logged_and_never_raises(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "anxin.prompt")
    shutil.copytree(DEFAULT_PROMPTS / "en", tmp_path / "en")
    (tmp_path / "en" / "cancelled.wav").unlink()
    (tmp_path / "en" / "resolved.wav").write_bytes(b"not a wav")
    room = LoopbackAudio(realtime=False)
    voice = speaker(room, "en", tmp_path)
    assert "resolved.wav: cannot read it as a WAV file" in caplog.text
    voice.say("cancelled", "Your call for help has been cancelled.")
    assert "PROMPT cancelled: Your call for help has been cancelled." in caplog.text
    assert "prompt cancelled has no audio file (run `anxin prompts render`); not heard" in caplog.text
    assert voice.tone("announce") == 0.0  # no tones folder here
    assert voice.phone.idle() and not voice.phone.streaming

    class Dead(LoopbackAudio):
        def start(self, callback: Any) -> None:
            raise AudioUnavailable("no output device: plug in the USB speakerphone")

    caplog.clear()
    voice = speaker(Dead(realtime=False), "en")
    voice.say("call_sent", "Your call for help has been sent.")
    deadline = time.monotonic() + 5
    while "not heard" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.005)
    assert "prompt call_sent not heard: no output device: plug in the USB speakerphone" in caplog.text
    assert "PROMPT call_sent: Your call for help has been sent." in caplog.text
    nothing = speaker(LoopbackAudio(realtime=False), "en", tmp_path / "nowhere")
    assert f"no prompt files in {tmp_path / 'nowhere' / 'en'}" in caplog.text
    nothing.say("call_sent", "Your call for help has been sent.")


# --- sentences made at run time -----------------------------------------------------------------

def handed(phone: Counting, n: int) -> None:
    deadline = time.monotonic() + 10
    while phone.handed < n:
        assert time.monotonic() < deadline, "say_text() never reached the speakerphone"
        time.sleep(0.005)


def test_a_sentence_is_rendered_off_the_caller_kept_and_played() -> None:
    renders: list[str] = []

    def render(text: str, voice: str) -> np.ndarray:
        renders.append(f"{voice}: {text}")
        return np.full(1600, 1000, np.int16)  # 0.1 s at 16 kHz

    phone = Counting(LoopbackAudio(rate=8000, block=160, realtime=False))
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "zh_CN", render=render)
    said = "您的儿子王建国已收到，正在赶来"
    t0 = time.perf_counter()
    voice.say_text("contact_accepted", said)
    assert time.perf_counter() - t0 < 0.05  # the render happens in the player's thread
    voice.say_text("contact_accepted", said)
    handed(phone, 2)
    assert renders == [f"cmn-latn-pinyin: {said}"]  # rendered once, kept
    assert [(k, t) for _, k, t in voice.heard] == [("contact_accepted", said)] * 2
    room = phone.device
    assert isinstance(room, LoopbackAudio)
    room.step(20)
    heard = np.flatnonzero(np.abs(room.played) > SILENT)
    assert len(heard) == pytest.approx(2 * 800, abs=20)  # twice 0.1 s, at the phone's 8 kHz


def test_a_sentence_espeak_cannot_read_falls_back_to_the_generic_prompt(
        caplog: pytest.LogCaptureFixture) -> None:
    def render(text: str, voice: str) -> np.ndarray:
        raise RenderError(f"espeak-ng voice {voice} would read part of {text!r} as en")

    phone = Counting(LoopbackAudio(rate=16000, block=320, realtime=False))
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "zh_CN", render=render)
    voice.say_text("contact_accepted", "您的儿子𠮷田已收到，正在赶来")
    handed(phone, 1)
    assert "the contact_accepted prompt is said instead" in caplog.text
    generic = voice.clips["contact_accepted"]
    room = phone.device
    assert isinstance(room, LoopbackAudio)
    room.step(len(generic) // 320 + 2)
    assert np.array_equal(room.played[:len(generic)], generic)


def test_espeak_renders_the_sentence_with_a_name(manifest: dict[str, Any]) -> None:
    espeak_matches(manifest)
    phone = Counting(LoopbackAudio(rate=16000, block=320, realtime=False))
    voice = AudioSpeaker(phone, DEFAULT_PROMPTS, "zh_CN")
    voice.say_text("contact_accepted", "您的儿子王建国已收到，正在赶来")
    handed(phone, 1)
    clip = next(iter(voice._rendered.values()))
    assert len(clip) / 16000 > 1.0 and not np.array_equal(clip[:len(voice.clips["contact_accepted"])],
                                                          voice.clips["contact_accepted"])
