"""Echo handling for the hub's speakerphone: half-duplex voice switching.

Loudspeaker and microphone sit centimetres apart in one box, so the officer's voice comes
back into the mic louder than the elder across the room. As classic telecare units do, the
switch compares the mic level with the level the far end's voice would have as echo and lets
one direction through at a time: while the far end talks (RX) the mic path is attenuated by
35 dB; while the elder talks (TX) the loudspeaker is turned down 6 dB; idle (neither talks),
both are open. docs/voice.md says why not an adaptive
echo canceller and gives the measured attenuation.

- Far level: an envelope of the levels played: the loudest frame of the last 100 ms (the
  sound card's buffers and the air delay the echo), then falling 2 dB a frame as the echo's
  tail does in a living room (600 ms reverberation time; smaller rooms decay faster). The
  switch knows a frame before its echo reaches the mic.
- Expected echo: far level + coupling + 6 dB margin. Coupling (mic level minus far level) is
  learned while the far end talks alone: it starts high (+6 dB, so a loud box does not leak
  its first words), rises at most 0.5 dB a frame and falls 5 dB/s to what the box does.
- The elder talks (near) when the mic is above the expected echo and 9 dB above its own noise
  floor; RX -> TX after 2 such frames in a row (an echo blip is not a break-in).
- Hang time 200 ms before TX or RX ends, so word gaps do not flip the switch.
- Gains glide across one frame.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from typing import Any

import numpy.typing as npt

from hub.voice import FRAME_MS
from hub.voice.loudness import NoiseFloor, Pcm, level_db, ramp, to_pcm


class Talk(Enum):
    IDLE = "idle"
    RX = "rx"  # the far end talks: mic attenuated
    TX = "tx"  # the elder talks: loudspeaker turned down a little


def _lin(db: float) -> float:
    return float(10 ** (db / 20))


class VoiceSwitch:
    """Pure, per frame: far() with each frame about to be played, near() with each mic frame."""

    def __init__(self, *, rx_atten_db: float = 35.0, tx_atten_db: float = 6.0,
                 coupling_db: float = 6.0, max_coupling_db: float = 12.0, margin_db: float = 6.0,
                 hold_ms: int = 100, rt60_ms: float = 600.0, hang_ms: int = 200,
                 far_on_db: float = -50.0,
                 near_over_floor_db: float = 9.0, break_in: int = 2, rise_db: float = 0.5,
                 fall_db: float = 0.1) -> None:
        self.rise_db, self.fall_db = rise_db, fall_db
        self.rx_atten_db, self.tx_atten_db = rx_atten_db, tx_atten_db
        self.coupling_db, self.max_coupling_db, self.margin_db = coupling_db, max_coupling_db, margin_db
        self.far_on_db, self.near_over_floor_db, self.break_in = far_on_db, near_over_floor_db, break_in
        self._far_levels: deque[float] = deque(maxlen=max(1, hold_ms // FRAME_MS))
        self._decay_db = 60.0 * FRAME_MS / rt60_ms  # per frame
        self.far_db = -100.0  # the far level envelope
        self._hang_frames = max(1, hang_ms // FRAME_MS)
        self.state = Talk.IDLE
        self._hang = 0  # frames left before the current state may end
        self._near_run = 0  # consecutive frames with the elder talking
        self.near_floor = NoiseFloor()
        self._mic_gain = self._spk_gain = 1.0  # linear, at the end of the last frame
        self.frames = dict.fromkeys(Talk, 0)  # frames spent in each state

    def far(self, frame: npt.NDArray[Any]) -> Pcm:
        """The loudspeaker path: the frame as it will be played (turned down while TX)."""
        g = _lin(-self.tx_atten_db) if self.state is Talk.TX else 1.0
        out = to_pcm(ramp(frame, self._spk_gain, g))
        self._spk_gain = g
        self._far_levels.append(level_db(out))
        self.far_db = max(max(self._far_levels), self.far_db - self._decay_db)
        return out

    def near(self, mic: npt.NDArray[Any], signal: npt.NDArray[Any] | None = None) -> Pcm:
        """Decide on the raw ``mic`` frame; return ``signal`` (default: mic; e.g. the AGC's
        output) attenuated while RX."""
        level = level_db(mic)
        floor = self.near_floor.update(level)
        far = self.far_db
        far_talking = far > self.far_on_db
        talking = (level > floor + self.near_over_floor_db
                   and level > far + self.coupling_db + self.margin_db)
        self._near_run = self._near_run + 1 if talking else 0
        if far_talking and self.state is not Talk.TX and not talking:
            c = level - far  # the far end alone: how loud its echo is
            if c > self.coupling_db:
                self.coupling_db = min(self.max_coupling_db, c, self.coupling_db + self.rise_db)
            else:
                self.coupling_db -= self.fall_db
        self._step(talking, far_talking)
        self.frames[self.state] += 1
        g = _lin(-self.rx_atten_db) if self.state is Talk.RX else 1.0
        out = to_pcm(ramp(mic if signal is None else signal, self._mic_gain, g))
        self._mic_gain = g
        return out

    def _step(self, talking: bool, far_talking: bool) -> None:
        self._hang = max(0, self._hang - 1)
        if self.state is Talk.TX:
            if talking:
                self._hang = self._hang_frames
            elif not self._hang:
                self.state = Talk.RX if far_talking else Talk.IDLE
                self._hang = self._hang_frames
        elif talking and (self._near_run >= self.break_in
                          or (self.state is Talk.IDLE and not far_talking)):
            self.state, self._hang = Talk.TX, self._hang_frames
        elif far_talking:
            self.state, self._hang = Talk.RX, self._hang_frames
        elif self.state is Talk.RX and not self._hang:
            self.state = Talk.IDLE
