"""``anxin audio devices``: the sound devices PortAudio sees, and the ones the hub would open.

The installer's first look when prompts are not heard or a call has no sound: is PortAudio
there, is the USB speakerphone seen, and at which rate it runs (a 48 kHz-only card is
resampled). hub.yaml's ``speaker.input`` / ``speaker.output`` take an index or part of a name
from this list.
"""

from __future__ import annotations

import argparse
import sys

from drivers.audio import AudioUnavailable
from drivers.audio.device import SoundDevice, list_devices


def arguments(p: argparse.ArgumentParser) -> None:
    """Declare ``anxin audio devices``'s arguments."""
    p.description = ("`devices` lists what PortAudio sees (index, channels in/out, default rate, "
                     "name) and opens nothing; then it says which input and output the hub would "
                     "use (speaker.input / speaker.output in hub.yaml, default: the system's) and "
                     "at which rate, or why it cannot.")
    verbs = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    d = verbs.add_parser("devices", help="list the sound devices")
    d.add_argument("--input", help="the microphone to check: an index or part of its name")
    d.add_argument("--output", help="the loudspeaker to check: an index or part of its name")
    p.set_defaults(fn=cmd_audio)


def cmd_audio(a: argparse.Namespace) -> int:
    try:
        print(list_devices())
        device = SoundDevice(input=_device(a.input), output=_device(a.output))
    except AudioUnavailable as e:
        print(f"anxin audio: {e}", file=sys.stderr)
        return 1
    print(f"the hub would use: {device}")
    return 0


def _device(arg: str | None) -> int | str | None:
    return int(arg) if arg is not None and arg.isdigit() else arg
