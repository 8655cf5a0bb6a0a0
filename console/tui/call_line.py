"""The console's side of a voice call: asks the station to start and end it, and runs the
officer's headset on :class:`hub.voice.call_audio.CallAudio` meanwhile.

The headset is a phone (drivers.audio's Speakerphone over a sound card or a loopback) given
to the console when it starts (``anxin console --audio``); the console itself never opens a
device. What the call is doing (ringing, open, ended and why) is the station's record, read
again after each change notice (:meth:`CallLine.update`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from console.station.calls import CallRow
from console.tui.client import StationClient
from hub.common import wire
from hub.voice.call_audio import CallAudio, Phone

VOLUME_STEP = 0.25
Block = npt.NDArray[np.int16]


class MutedMic:
    """The headset as the call's audio sees it, with the mute at the microphone. Muted, it
    hears silence: packets (Opus silence, a few bytes each) keep coming to the hub, which
    would otherwise end the call as gone after its silence_s."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.muted = False

    def start_call(self, on_mic: Callable[[Block], None], far: Callable[[], Block]) -> None:
        self.phone.start_call(lambda block: on_mic(np.zeros_like(block) if self.muted else block),
                              far)

    def end_call(self) -> None:
        self.phone.end_call()


@dataclass
class ActiveCall:
    id: str
    hub: str
    alarm: str | None
    audio: CallAudio
    mic: MutedMic
    since: float  # monotonic: when it was asked for, then when it opened
    open: bool = False
    ended: str | None = None  # the reason, once it has ended


class CallLine:
    def __init__(self, client: StationClient, phone: Phone | None) -> None:
        self.client, self.phone = client, phone
        self.call: ActiveCall | None = None  # the current call, or the last one until dismissed

    @property
    def live(self) -> bool:
        return self.call is not None and self.call.ended is None

    async def start(self, *, alarm: str | None = None, hub: str) -> wire.Reply:
        """Ask the station for a call to ``hub`` (about ``alarm``, else an online visit); on
        yes, the headset starts at once (the hub opens its microphone after announcing)."""
        assert self.phone is not None and not self.live
        reply = await self.client.request("call_start", alarm, hub=None if alarm else hub)
        if not reply.ok or not reply.call:
            return reply
        mic = MutedMic(self.phone)
        audio = CallAudio(mic, reply.call, self.client.speak(hub), speakerphone_echo=False)
        self.client.listen(hub, audio.on_packet)
        try:
            audio.start()
        except Exception as e:  # the headset would not open: the home must not wait for it
            self.client.listen(hub, None)
            await self.client.request("call_end", call=reply.call)
            return wire.Reply(req=reply.req, ok=False, error=f"the headset: {e}"[:2000])
        self.call = ActiveCall(reply.call, hub, alarm, audio, mic, since=time.monotonic())
        return reply

    async def hang_up(self) -> wire.Reply | None:
        """Hang up: the headset stops at once, whatever the station answers."""
        if self.call is None or self.call.ended is not None:
            return None
        call = self.call.id
        self._stop("hangup")
        return await self.client.request("call_end", call=call)

    def update(self, row: CallRow | None) -> bool:
        """The station's record of the current call after a change; True if its state moved."""
        c = self.call
        if c is None or row is None or row.id != c.id or c.ended is not None:
            return False
        if row.ended is not None:
            self._stop(row.reason or "hangup")
            return True
        if row.answered is not None and not c.open:
            c.open, c.since = True, time.monotonic()
            return True
        return False

    def mute(self) -> None:
        if self.live and self.call:
            self.call.mic.muted = not self.call.mic.muted

    def volume(self, step: float) -> None:
        if self.live and self.call:
            self.call.audio.volume = self.call.audio.volume + step * VOLUME_STEP

    def dismiss(self) -> None:
        """Forget an ended call (the bar hides)."""
        if self.call and self.call.ended is not None:
            self.call = None

    def close(self) -> None:
        self._stop("hangup")

    def _stop(self, reason: str) -> None:
        c = self.call
        if c is None or c.ended is not None:
            return
        c.audio.stop()
        self.client.listen(c.hub, None)
        c.ended, c.since = reason, time.monotonic()
