"""One direction of a call: Sender (pcm frame -> packet bytes) and Receiver (packet bytes ->
jitter buffer -> Opus decode, FEC or concealment -> pcm frame every 20 ms). Pure apart from
libopus; the clock is injected."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.voice import FRAME
from hub.voice.codec import BITRATE, OpusDecoder, OpusEncoder, Pcm
from hub.voice.jitter import JitterBuffer
from hub.voice.packet import SEQ_MOD, TS_MOD, VoiceError, VoicePacket, decode_packet, encode_packet

log = logging.getLogger(__name__)

SILENCE: Pcm = np.zeros(FRAME, dtype=np.int16)
SILENCE.flags.writeable = False


class Sender:
    """Encodes frames as they are captured; ``ts_ms`` is the capture clock at push()."""

    def __init__(self, call: str, *, bitrate: int = BITRATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.call = call
        self._clock = clock
        self._enc = OpusEncoder(bitrate=bitrate)
        self._seq = 0
        self._marker = True  # the first packet starts a talk spurt
        self.packets = 0
        self.bytes = 0  # packet bytes, header included

    def pause(self) -> None:
        """The caller stops sending for a while (mute): the next packet carries MARKER."""
        self._marker = True

    def push(self, pcm: npt.NDArray[Any]) -> bytes:
        ts = int(self._clock() * 1000) % TS_MOD
        data = encode_packet(VoicePacket(self.call, self._seq, ts, self._enc.encode(pcm), self._marker))
        self._seq = (self._seq + 1) % SEQ_MOD
        self._marker = False
        self.packets += 1
        self.bytes += len(data)
        return data


class Receiver:
    """Never raises on input: bad, foreign and late packets are counted (and logged once)."""

    def __init__(self, call: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.call = call
        self._jb = JitterBuffer(clock=clock)
        self._dec = OpusDecoder()
        self.counts = dict.fromkeys(("packets", "bytes", "rejected", "foreign", "undecodable"), 0)
        self._logged = False
        self.played_ts: int | None = None  # capture ts_ms of the frame pull() last decoded

    def _reject(self, what: str, why: object) -> None:
        self.counts[what] += 1
        if not self._logged:
            self._logged = True
            log.warning("call %s: voice packet %s (%s); further ones are only counted",
                        self.call, what, why)

    def push(self, data: bytes) -> None:
        self.counts["packets"] += 1
        self.counts["bytes"] += len(data)
        try:
            p = decode_packet(data)
        except VoiceError as e:
            self._reject("rejected", e)
            return
        if p.call != self.call:
            self._reject("foreign", f"call {p.call!r}")
            return
        self._jb.push(p.seq, p.ts_ms, p.payload, p.marker)

    def pull(self) -> Pcm:
        """The next 20 ms to play: decoded, rebuilt from FEC, concealed, or silence."""
        play = self._jb.pull()
        self.played_ts = play.ts_ms if play else None
        if play is None:
            return SILENCE
        try:
            for frame in play.skipped:
                self._dec.decode(frame)
            if play.payload is not None:
                return self._dec.decode(play.payload)
            if play.fec is not None:
                return self._dec.recover(play.fec)
            return self._dec.conceal()
        except VoiceError as e:
            self._reject("undecodable", e)
            return self._dec.conceal()

    @property
    def stats(self) -> dict[str, float]:
        return {**self._jb.stats, **self.counts}
