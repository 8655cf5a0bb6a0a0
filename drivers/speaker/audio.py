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

A sentence made at run time (:meth:`AudioSpeaker.say_text`: who is coming, by name) is rendered
by espeak-ng in that same thread, in its turn (never on the event loop), kept for the next time
it is said, and replaced by its key's pre-rendered clip when it cannot be rendered (no
espeak-ng, a name it cannot read, a render slower than RENDER_S).
"""

from __future__ import annotations

import logging
import queue
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.audio import RATE, AudioUnavailable
from drivers.audio.resample import resample
from drivers.audio.speakerphone import Speakerphone
from drivers.speaker.tts import VOICES, RenderError, speak
from drivers.threads import DriverThread

with warnings.catch_warnings():  # pydub warns at import that ffmpeg is missing (WAV needs none)
    warnings.simplefilter("ignore")  # and Python 3.11 that audioop (used by pydub) is deprecated
    from pydub import AudioSegment

log = logging.getLogger("anxin.prompt")

RENDER = "run `anxin prompts render`"
RENDER_S = 5.0  # a sentence espeak-ng has not rendered by then is replaced by its key's clip
KEPT = 32  # sentences kept rendered (a few names per home)


class AudioSpeaker:
    def __init__(self, phone: Speakerphone, prompts_dir: Path, language: str,
                 render: Callable[[str, str], np.ndarray] | None = None) -> None:
        """``render(text, voice)``: 16 kHz samples of ``text`` (espeak-ng's by default)."""
        self.phone = phone
        self.voice = VOICES.get(language, "")
        self._render = render or (lambda text, voice: speak(text, voice, RENDER_S))
        self._rendered: OrderedDict[str, np.ndarray] = OrderedDict()  # text -> clip, newest last
        self.heard: list[tuple[float, str, str]] = []  # (time, key, text), in order, as LogSpeaker
        self.clips = _load(prompts_dir / language, phone.rate)
        self.tones = _load(prompts_dir / "tones", phone.rate)
        if not self.clips:
            log.error("no prompt files in %s: prompts are only logged; %s", prompts_dir / language,
                      RENDER)
        self._queue: queue.SimpleQueue[tuple[np.ndarray | Callable[[], np.ndarray | None], str]] = \
            queue.SimpleQueue()
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

    def say_text(self, key: str, text: str) -> None:
        self.heard.append((time.time(), key, text))
        log.info("PROMPT %s: %s", key, text)
        self._queue.put((lambda: self._sentence(key, text), f"sentence {key}"))

    def _sentence(self, key: str, text: str) -> np.ndarray | None:
        """In the player thread: ``text`` rendered (or kept from before), else ``key``'s clip."""
        if (clip := self._rendered.get(text)) is not None:
            self._rendered.move_to_end(text)
            return clip
        try:
            clip = resample(self._render(text, self.voice), RATE, self.phone.rate)
        except (RenderError, OSError, ValueError) as e:
            log.warning("sentence %r not rendered (%s): the %s prompt is said instead", text, e, key)
            if (fallback := self.clips.get(key)) is None:
                log.error("prompt %s has no audio file (%s); not heard", key, RENDER)
            return fallback
        self._rendered[text] = clip
        while len(self._rendered) > KEPT:
            self._rendered.popitem(last=False)
        return clip

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
            job, what = self._queue.get()
            try:
                clip = job() if callable(job) else job
                if clip is not None:
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
