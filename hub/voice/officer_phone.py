"""The duty officer's headset for ``anxin console --audio`` and the demo: a speakerphone on
the sound card, or on a loopback room where there is none (tests, the demo, an SSH session).

The console never opens a device itself (import-linter: console/ never imports drivers/); it
is handed the phone made here.
"""

from __future__ import annotations

from typing import Literal

from drivers.audio.device import SoundDevice
from drivers.audio.loopback import LoopbackAudio
from drivers.audio.speakerphone import Speakerphone

ConsoleAudio = Literal["device", "loopback"]


def console_phone(audio: ConsoleAudio) -> Speakerphone:
    """``device``: the default sound card (AudioUnavailable says what is missing)."""
    return Speakerphone(SoundDevice() if audio == "device" else LoopbackAudio())
