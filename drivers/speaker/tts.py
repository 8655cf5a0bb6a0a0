"""Speech from text with espeak-ng: the prompts rendered once (``anxin prompts render``) and the
sentences made at run time (a name in them: "您的儿子王建国已收到，正在赶来").

Each text goes through espeak-ng (``-v VOICE -s SPEED -w file``; 22.05 kHz), is resampled to
16 kHz mono 16-bit and scaled to a peak of PEAK_DBFS, so everything said is equally loud and
leaves headroom for the call audio it may be mixed with. espeak-ng writes the same bytes for
the same text, voice and version.

Mandarin uses espeak-ng's ``cmn-latn-pinyin`` voice: in espeak-ng 1.51 the ``cmn`` voice reads
the pinyin its dictionary gives a character as English ("你好" becomes "ni three hao three";
espeak-ng issue #1236). A text that espeak-ng would read partly in another language (a name
character its dictionary lacks, Chinese given to the English voice) is refused, so the caller
can say something else rather than gibberish.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from drivers.audio import RATE
from drivers.audio.pcm import FULL_SCALE, clip16, dbfs_gain
from drivers.audio.resample import resample
from drivers.audio.wavfile import read_wav

VOICES = {"zh_CN": "cmn-latn-pinyin", "en": "en-gb"}  # by the hub's language
SPEED_WPM = 150  # espeak-ng's default 175 is brisk for elderly listeners
PEAK_DBFS = -3.0
INSTALL = "sudo apt install espeak-ng"
TIMEOUT_S = 60.0


class RenderError(Exception):
    """espeak-ng is missing, failed, or would not read a text in its language."""


def espeak(*args: str, timeout_s: float = TIMEOUT_S) -> str:
    try:
        r = subprocess.run(["espeak-ng", *args], capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise RenderError(f"espeak-ng is not installed: {INSTALL}") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"espeak-ng took more than {timeout_s:g} s") from None
    if r.returncode != 0:
        raise RenderError(f"espeak-ng failed (exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout


def espeak_version() -> str:
    out = espeak("--version")
    if not (m := re.search(r"text-to-speech: (\S+)", out)):
        raise RenderError(f"espeak-ng --version printed no version: {out!r}")
    return m.group(1)


def check_language(text: str, voice: str, timeout_s: float = TIMEOUT_S) -> None:
    """RenderError if espeak-ng would switch language inside ``text`` (it marks "(en)" in
    the phonemes where it does)."""
    phonemes = espeak("-q", "-x", "-v", voice, text, timeout_s=timeout_s)
    own = voice.split("-")[0]  # "(cmn)" marks the switch back
    if switched := {lang for lang in re.findall(r"\(([a-z][\w-]*)\)", phonemes) if lang != own}:
        raise RenderError(f"espeak-ng voice {voice} would read part of {text!r} as "
                          f"{'/'.join(sorted(switched))}: {phonemes.strip()}")


def speak(text: str, voice: str, timeout_s: float = TIMEOUT_S) -> np.ndarray:
    """``text`` spoken by espeak-ng, at RATE, scaled to PEAK_DBFS."""
    check_language(text, voice, timeout_s)
    with tempfile.TemporaryDirectory(prefix="anxin-prompt-") as tmp:
        wav = Path(tmp) / "out.wav"
        espeak("-v", voice, "-s", str(SPEED_WPM), "-w", str(wav), text, timeout_s=timeout_s)
        samples, rate = read_wav(wav)
    return peak(resample(samples, rate, RATE), PEAK_DBFS)


def peak(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` as 16-bit samples scaled so its loudest is ``dbfs``."""
    x = np.asarray(x, dtype=np.float64)
    top = np.max(np.abs(x)) if len(x) else 0.0
    return clip16(x * (dbfs_gain(dbfs) * (FULL_SCALE - 1) / top)) if top else clip16(x)
