"""A speaker that plays the rendered prompt files on the speakerphone.

Files are ``<prompts_dir>/<language>/<key>.wav`` (``anxin prompts render``) and the tones
``<prompts_dir>/tones/<name>.wav``. They are loaded with pydub and converted to the
speakerphone's rate, mono, 16-bit once, at construction. :meth:`AudioSpeaker.say` returns at
once: a thread of its own hands the clips to the speakerphone in order, since opening the sound
card's stream can take PortAudio tens of milliseconds and the hub's alarm path (siren, LED,
uplink) must not wait for it. A prompt without a file, or a device that will not open, is
logged with its text and the fix: the alarm path goes on whatever the sound does. A clip that
fails to play is logged and the next one plays; if the thread ends anyway, ``on_died`` says so
(drivers/threads.py).
"""

from __future__ import annotations

import logging
import queue
import time
import warnings
from pathlib import Path

import numpy as np

from drivers.audio import AudioUnavailable
from drivers.audio.speakerphone import Speakerphone
from drivers.threads import DriverThread

with warnings.catch_warnings():  # pydub warns at import that ffmpeg is missing (WAV needs none)
    warnings.simplefilter("ignore")  # and Python 3.11 that audioop (used by pydub) is deprecated
    from pydub import AudioSegment

log = logging.getLogger("anxin.prompt")

RENDER = "run `anxin prompts render`"


class AudioSpeaker:
    def __init__(self, phone: Speakerphone, prompts_dir: Path, language: str) -> None:
        self.phone = phone
        self.heard: list[tuple[float, str, str]] = []  # (time, key, text), in order, as LogSpeaker
        self.clips = _load(prompts_dir / language, phone.rate)
        self.tones = _load(prompts_dir / "tones", phone.rate)
        if not self.clips:
            log.error("no prompt files in %s: prompts are only logged; %s", prompts_dir / language,
                      RENDER)
        self._queue: queue.SimpleQueue[tuple[np.ndarray, str]] = queue.SimpleQueue()
        self.thread = DriverThread("speaker", self._hand_over)  # its on_died: set by the hub
        self.thread.start()

    def say(self, key: str, text: str) -> None:
        self.heard.append((time.time(), key, text))
        log.info("PROMPT %s: %s", key, text)
        clip = self.clips.get(key)
        if clip is None:
            log.error("prompt %s has no audio file (%s); not heard", key, RENDER)
            return
        self._queue.put((clip, f"prompt {key}"))

    def tone(self, name: str) -> float:
        """Play a tone (``announce``, ``ringback``) after the prompts queued; its length in s
        (0 without its file), so a caller can wait for it before opening the microphone."""
        clip = self.tones.get(name)
        if clip is None:
            log.error("tone %s has no audio file (%s); not heard", name, RENDER)
            return 0.0
        self._queue.put((clip, f"tone {name}"))
        return len(clip) / self.phone.rate

    def _hand_over(self) -> None:
        while True:
            clip, what = self._queue.get()
            try:
                self.phone.play(clip)
            except AudioUnavailable as e:
                log.error("%s not heard: %s", what, e)
            except Exception:
                log.exception("%s not heard", what)


def _load(folder: Path, rate: int) -> dict[str, np.ndarray]:
    """Every WAV file in ``folder`` by name, as mono int16 at ``rate``; bad files logged."""
    clips: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob("*.wav")):
        try:
            with warnings.catch_warnings():  # on a bad file pydub warns that ffprobe is missing
                warnings.simplefilter("ignore")
                seg = AudioSegment.from_wav(path).set_channels(1).set_sample_width(2).set_frame_rate(rate)
        except Exception as e:  # pydub raises what wave, audioop or its ffmpeg fallback raise
            log.error("%s: cannot read it as a WAV file (%s); %s", path, e, RENDER)
            continue
        clips[path.stem] = np.frombuffer(seg.raw_data, dtype="<i2").astype(np.int16)
    return clips
