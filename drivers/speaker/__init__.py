"""The loudspeaker that speaks prompts to the elder.

Backends: :class:`drivers.speaker.sim.LogSpeaker` records and logs what would be heard (the
simulation); the audio backend that plays the rendered prompt files arrives with two-way
voice (issue 7).
"""

from __future__ import annotations

from typing import Protocol


class Speaker(Protocol):
    def say(self, key: str, text: str) -> None:
        """Speak one prompt; must return quickly (playback happens in the background)."""
