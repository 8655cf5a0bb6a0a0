"""``anxin prompts render``: every prompt of hub/voice/prompts.py as a WAV file, reproducibly.

Each text is spoken by espeak-ng as drivers/speaker/tts.py does it (16 kHz mono, peak at
PEAK_DBFS; a text espeak-ng would read partly in another language is refused). Two tones are
made by code: ``announce`` (a ding-dong before an announced call) and ``ringback`` (China's
450 Hz, 1 s on 4 s off, one cadence to loop).

manifest.json records per file the text, voice, espeak-ng version, options, the sha256 of text,
voice and options (what the file was made from) and the sha256 of the file itself, so a test
finds a text edited without rendering again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import numpy as np

from drivers.audio import RATE
from drivers.audio.pcm import dbfs_gain
from drivers.audio.wavfile import write_wav
from drivers.speaker.tts import PEAK_DBFS, SPEED_WPM, VOICES, RenderError, espeak_version, peak, speak
from hub.common.language import Language
from hub.runtime.config import DEFAULT_PROMPTS
from hub.voice.prompts import PROMPTS

MANIFEST = "manifest.json"
LANGUAGES: tuple[Language, ...] = get_args(Language)


def options() -> dict[str, Any]:
    return {"speed_wpm": SPEED_WPM, "rate": RATE, "peak_dbfs": PEAK_DBFS}


def digest(made_from: dict[str, Any]) -> str:
    """The sha256 of what a file is made from (text, voice, options), key order aside."""
    return hashlib.sha256(json.dumps(made_from, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def chime(rate: int) -> np.ndarray:
    """Ding-dong: E5 then C5 (a falling major third, like a door chime), struck and ringing
    out like a bell, 1 s."""
    t = np.arange(rate) / rate
    out = np.zeros(rate)
    for start, hz in ((0.0, 659.25), (0.45, 523.25)):
        s = t[t >= start] - start
        attack = np.minimum(1.0, s / 0.005)  # 5 ms: a strike, not a click
        for harmonic, level_db, tau in ((1, 0.0, 0.3), (2, -10.0, 0.15), (3, -20.0, 0.08)):
            out[t >= start] += (dbfs_gain(level_db) * attack * np.exp(-s / tau)
                                * np.sin(2 * math.pi * harmonic * hz * s))
    out *= np.minimum(1.0, (t[-1] - t) / 0.02)  # fade the last 20 ms to silence
    return peak(out, -6.0)


def ringback(rate: int) -> np.ndarray:
    """One cadence of China's ring-back tone: 450 Hz for 1 s, then 4 s of silence."""
    t = np.arange(rate) / rate
    tone = np.sin(2 * math.pi * 450.0 * t) * np.minimum(1.0, np.minimum(t, 1.0 - t) / 0.01)
    return np.concatenate([peak(tone, -10.0), np.zeros(4 * rate, np.int16)])


TONES: dict[str, tuple[Callable[[int], np.ndarray], dict[str, Any]]] = {
    "announce": (chime, {"notes_hz": [659.25, 523.25], "note_at_s": [0.0, 0.45], "seconds": 1.0,
                         "peak_dbfs": -6.0}),
    "ringback": (ringback, {"hz": 450.0, "on_s": 1.0, "off_s": 4.0, "peak_dbfs": -10.0}),
}


def render_prompt(key: str, language: Language, out: Path, version: str) -> dict[str, Any]:
    """Write ``out/<language>/<key>.wav``; its manifest entry."""
    text = PROMPTS[key][language]
    made_from = {"text": text, "voice": VOICES[language], "options": options()}
    return _write(out / language / f"{key}.wav", speak(text, VOICES[language]),
                  {"key": key, "language": language, **made_from, "espeak_ng": version,
                   "sha256": digest(made_from)})


def render(out: Path, say: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Every prompt in every language, and the tones, into ``out``; files no longer made are
    removed. The manifest, also written as ``out/manifest.json``."""
    version = espeak_version()
    files: dict[str, Any] = {}
    for language in LANGUAGES:
        for key in PROMPTS:
            files[f"{language}/{key}.wav"] = render_prompt(key, language, out, version)
            say(f"{language}/{key}.wav  {PROMPTS[key][language]}")
    for name, (make, params) in TONES.items():
        made_from = {"tone": name, "options": {**params, "rate": RATE}}
        files[f"tones/{name}.wav"] = _write(out / "tones" / f"{name}.wav", make(RATE),
                                            {**made_from, "sha256": digest(made_from)})
        say(f"tones/{name}.wav")
    for folder in (*LANGUAGES, "tones"):
        for stale in (out / folder).glob("*.wav"):
            if f"{folder}/{stale.name}" not in files:
                stale.unlink()
                say(f"removed {folder}/{stale.name}")
    manifest = {"generator": "anxin prompts render", "espeak_ng": version, "files": files}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True)
                                + "\n", encoding="utf-8")
    return manifest


def _write(path: Path, samples: np.ndarray, entry: dict[str, Any]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, samples, RATE)
    return {**entry, "seconds": round(len(samples) / RATE, 3),
            "audio_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


def arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``anxin prompts render``'s arguments."""
    p.description = (
        "`render` speaks every prompt of hub/voice/prompts.py in Mandarin and English with "
        "espeak-ng into 16 kHz WAV files, makes the announcement and ring-back tones, and writes "
        "manifest.json. Run it after editing a prompt's text; the same espeak-ng version gives "
        "the same bytes.")
    verbs = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = verbs.add_parser("render", help="render every prompt and tone to WAV")
    r.add_argument("--out", type=Path, default=DEFAULT_PROMPTS,
                   help=f"where to write them (default: the package's own, {DEFAULT_PROMPTS})")
    r.add_argument("--quiet", action="store_true", help="print only the summary")
    p.set_defaults(fn=cmd_prompts)


def cmd_prompts(a: argparse.Namespace) -> int:
    def say(line: str) -> None:
        if not a.quiet:
            print(line, flush=True)

    try:
        manifest = render(a.out, say)
    except RenderError as e:
        print(f"anxin prompts render: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"anxin prompts render: cannot write in {a.out} ({e.strerror}): pass --out DIR",
              file=sys.stderr)
        return 1
    print(f"{len(manifest['files'])} files ({len(PROMPTS)} prompts in {', '.join(LANGUAGES)}, "
          f"{len(TONES)} tones) in {a.out}, espeak-ng {manifest['espeak_ng']}")
    return 0
