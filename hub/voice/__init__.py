"""Two-way voice between a hub and the duty console (issue 7): packets, codec, jitter buffer,
loudness, echo handling and one call's audio. Everything but :mod:`hub.voice.call_audio` is
pure: frames, bytes and a clock in, values out. docs/voice.md gives the design and figures.

Submodules are imported where used: :mod:`hub.voice.codec` loads the system libopus.
"""

from __future__ import annotations

RATE = 16_000  # Opus wideband: speech up to 8 kHz
FRAME = 320  # samples in one 20 ms frame, the unit of every packet and every DSP step
FRAME_MS = 20
