"""The loudspeaker that speaks prompts to the elder.

Backends: :class:`drivers.speaker.sim.LogSpeaker` records and logs what would be heard (the
simulation); :class:`drivers.speaker.audio.AudioSpeaker` plays the rendered prompt files
(``anxin prompts render``) on a :class:`drivers.audio.speakerphone.Speakerphone`, and speaks
sentences made at run time with espeak-ng (:mod:`drivers.speaker.tts`).
"""

from __future__ import annotations

from typing import Protocol


class Speaker(Protocol):
    def say(self, key: str, text: str) -> None:
        """Speak one prompt; must return quickly (playback happens in the background)."""

    def say_text(self, key: str, text: str) -> None:
        """Speak ``text``, made at run time (a name in it); the prompt ``key`` instead when it
        cannot be rendered. Returns quickly: rendering and playback happen in the background."""
