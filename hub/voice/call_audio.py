"""One call's audio on a speakerphone: mic -> AGC -> voice switch -> Opus -> publish, and
packets -> jitter buffer -> decode -> volume -> voice switch -> loudspeaker.

The hub (``speakerphone_echo=True``) needs the voice switch; an officer's headset does not.
The phone is anything with drivers.audio.Speakerphone's call methods (a Protocol here, so the
console may use this module without importing drivers). on_mic and far run on the audio
thread, on_packet on the transport's: the receiver is shared under a lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hub.voice import FRAME
from hub.voice.codec import BITRATE, Pcm
from hub.voice.echo import Talk, VoiceSwitch
from hub.voice.loudness import Agc, to_pcm
from hub.voice.pipeline import Receiver, Sender

log = logging.getLogger(__name__)


class Phone(Protocol):
    def start_call(self, on_mic: Callable[[npt.NDArray[np.int16]], None],
                   far: Callable[[], npt.NDArray[np.int16]]) -> None: ...

    def end_call(self) -> None: ...


class CallAudio:
    """``publish(bytes)`` must not block (paho's publish at QoS 0 does not)."""

    def __init__(self, phone: Phone, call: str, publish: Callable[[bytes], None], *,
                 speakerphone_echo: bool, bitrate: int = BITRATE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.phone, self.call, self._publish = phone, call, publish
        self.sender = Sender(call, bitrate=bitrate, clock=clock)
        self.receiver = Receiver(call, clock=clock)
        self._lock = threading.Lock()
        self.agc = Agc()
        self.switch = VoiceSwitch() if speakerphone_echo else None
        self._pending: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)  # mic samples short of a frame
        self._muted = False
        self._volume = 1.0
        self.send_errors = 0

    @property
    def muted(self) -> bool:
        return self._muted

    @muted.setter
    def muted(self, value: bool) -> None:
        """Muted: nothing is sent, the call stays up; unmuting starts a new talk spurt."""
        if value and not self._muted:
            self.sender.pause()
        self._muted = value

    @property
    def volume(self) -> float:
        return self._volume

    @volume.setter
    def volume(self, value: float) -> None:
        """Gain on the far end's voice, 0 (silent) .. 2 (+6 dB)."""
        self._volume = min(2.0, max(0.0, float(value)))

    def start(self) -> None:
        self.phone.start_call(self._on_mic, self._far)

    def stop(self) -> None:
        self.phone.end_call()

    def on_packet(self, data: bytes) -> None:
        with self._lock:
            self.receiver.push(data)

    def _far(self) -> Pcm:
        """The next 20 ms for the loudspeaker or headset."""
        with self._lock:
            pcm = self.receiver.pull()
        out = to_pcm(pcm.astype(np.float64) * self._volume)
        return self.switch.far(out) if self.switch else out

    def _on_mic(self, block: npt.NDArray[Any]) -> None:
        data = np.concatenate((self._pending, np.asarray(block, dtype=np.int16).ravel()))
        whole = len(data) - len(data) % FRAME
        self._pending = data[whole:]
        for start in range(0, whole, FRAME):
            self._frame(data[start:start + FRAME])

    def _frame(self, mic: Pcm) -> None:
        held = self.switch is not None and self.switch.state is Talk.RX
        out = self.agc.process(mic, adapt=not held)
        if self.switch:
            out = self.switch.near(mic, out)
        if self._muted:
            return
        try:
            self._publish(self.sender.push(out))
        except Exception as e:  # the link is down or closing: audio goes on, the call decides
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning("call %s: cannot publish voice (%s); further errors are only counted",
                            self.call, e)

    @property
    def stats(self) -> dict[str, Any]:
        with self._lock:
            rx = self.receiver.stats
        return {"sent_packets": self.sender.packets, "sent_bytes": self.sender.bytes,
                "received_packets": rx["packets"], "received_bytes": rx["bytes"],
                "lost": rx["lost"], "concealed": rx["concealed"], "recovered": rx["recovered"],
                "late": rx["late"], "rejected": rx["rejected"] + rx["foreign"],
                "delay_ms": rx["delay_ms"], "send_errors": self.send_errors,
                "talk": self.switch.state.value if self.switch else None,
                "muted": self._muted, "volume": self._volume}
