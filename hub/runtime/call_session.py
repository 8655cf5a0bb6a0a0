"""The home's voice call, carried out: the call machine (:mod:`hub.runtime.call`) decides, this
plays the announcement, opens and closes the microphone, passes the officer's packets on and
reports to the station.

Calls are started and ended by the station; the speakerphone announces each before its
microphone opens, and a call without its announcement's audio files is refused. The voice
stack (numpy, Opus, :mod:`hub.voice.call_audio`) is imported when a call's microphone first
opens, so an idle hub does not carry it. Every step is carried out even when one fails: the
call must still end, and be reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from drivers.speaker import Speaker
from hub.common import wire
from hub.common.events import ELDER_CALLS, Event
from hub.rules.feedback import Action, Say
from hub.runtime.call import (
    Announce,
    Call,
    CallMachine,
    CloseMic,
    Effect,
    EndReason,
    Limits,
    OpenMic,
    Report,
)
from hub.runtime.config import HubConfig
from hub.voice.packet import VoiceError, decode_packet

if TYPE_CHECKING:
    from drivers.audio.speakerphone import Speakerphone
    from hub.voice.call_audio import CallAudio

log = logging.getLogger(__name__)

CALLS_MAX_SLEEP_S = 5.0
ANNOUNCE_POLL_S = 0.02  # how often the end of the announcement is checked: one audio block


class CallSession:
    def __init__(self, cfg: HubConfig, phone: Speakerphone | None, speaker: Speaker, *,
                 apply: Callable[[list[Action]], None], report: Callable[[Event], None],
                 kind_of: Callable[[str], str | None], mic_opened: Callable[[str | None], None],
                 mic_closed: Callable[[], None]) -> None:
        """``apply`` tells the elder; ``report`` sends call.* events to the station;
        ``kind_of`` names an alarm's kind; ``mic_opened`` (with the call's alarm) and
        ``mic_closed`` let the home show it."""
        self._cfg, self._phone, self._speaker = cfg, phone, speaker
        self._apply, self._report, self._kind_of = apply, report, kind_of
        self._mic_opened, self._mic_closed = mic_opened, mic_closed
        v = cfg.voice
        self.machine = CallMachine(Limits(silence_s=v.silence_s, max_s=v.max_call_s,
                                          announce_s=v.announce_s))
        self.publish_voice: Callable[[bytes], None] = lambda packet: None  # the uplink's
        self.audio: CallAudio | None = None  # the open call's audio
        self.changed = asyncio.Event()  # the call's next deadline may have moved
        self._announcing: asyncio.Task[None] | None = None  # waits for the announcement to end
        self.rejected = 0  # voice/down packets that were not voice packets

    @property
    def call(self) -> Call | None:
        return self.machine.call

    @property
    def mic_open(self) -> bool:
        return self.machine.mic_open

    def control(self, msg: wire.CallControl) -> None:
        """The station starts or ends a call."""
        now = time.monotonic()
        if msg.op == "end":
            self._carry(self.machine.end(msg.call, EndReason.HANGUP, now))
            return
        from drivers.speaker.audio import AudioSpeaker  # with a speakerphone, already loaded

        if self._phone is None or not isinstance(self._speaker, AudioSpeaker):
            log.warning("call %s refused: this hub has no speakerphone (speaker.backend: %s)",
                        msg.call, self._cfg.speaker.backend)
            self._send(Report("call.end", msg.call, msg.alarm, msg.visit, EndReason.NO_AUDIO))
            return
        elder_called = msg.alarm is not None and self._kind_of(msg.alarm) in ELDER_CALLS
        self._carry(self.machine.start(msg.call, alarm=msg.alarm, visit=msg.visit,
                                       announce=msg.announce or not elder_called, now=now))

    def hang_up(self) -> bool:
        """The elder's cancel gesture ends the call: they can always close the microphone.
        True if a call ended."""
        return self._carry(self.machine.end(None, EndReason.ELDER_HANGUP, time.monotonic()))

    def voice(self, data: bytes) -> None:
        """A packet from the officer: to the open call's audio, if it is that call's."""
        try:
            call = decode_packet(data).call
        except VoiceError as e:
            self.rejected += 1
            if self.rejected == 1:
                log.warning("refused a voice packet (%s); further ones are only counted", e)
            return
        if self.machine.packet(call, time.monotonic()) and self.audio:
            self.audio.on_packet(data)

    def delay(self) -> float | None:
        """Seconds until the call's next deadline (silence, length, announcement)."""
        deadline = self.machine.next_deadline()
        return None if deadline is None else deadline - time.monotonic()

    def tick(self) -> None:
        self._carry(self.machine.tick(time.monotonic()))

    def close(self) -> None:
        """The hub stops: the microphone first."""
        self._carry(self.machine.end(None, EndReason.HUB_STOPPED, time.monotonic()))
        if self._announcing:
            self._announcing.cancel()

    def _carry(self, effects: list[Effect]) -> bool:
        """Carry out what the call machine decided; True if it decided anything."""
        for e in effects:
            try:
                match e:
                    case Announce():
                        self._announce(e)
                    case OpenMic(call=call):
                        self._open_mic(call)
                    case CloseMic():
                        self._close_mic()
                    case Report():
                        self._send(e)
                    case Say():
                        self._apply([e])
            except Exception:  # the call must still end and be reported
                log.exception("call step %s failed", e)
        if effects:
            self.changed.set()
        return bool(effects)

    def _announce(self, a: Announce) -> None:
        """Queue the announcement and open the microphone once it has been played. Without
        its audio files the call ends: the microphone is never opened unannounced."""
        from drivers.speaker.audio import AudioSpeaker

        speaker = self._speaker
        assert isinstance(speaker, AudioSpeaker) and self._phone
        clip = speaker.clips.get(a.prompt)
        if clip is None or (a.tone and a.tone not in speaker.tones):
            log.error("call %s: the announcement (%s %s) has no audio file; call refused", a.call,
                      a.tone or "", a.prompt)
            self._carry(self.machine.end(a.call, EndReason.NO_AUDIO, time.monotonic()))
            return
        length = speaker.tone(a.tone) if a.tone else 0.0
        self._apply([Say(a.prompt)])
        length += len(clip) / self._phone.rate
        self._announcing = asyncio.get_running_loop().create_task(self._when_said(a.call, length))

    async def _when_said(self, call: str, length: float) -> None:
        phone = self._phone
        assert phone is not None
        await asyncio.sleep(length)  # the speaker's thread has handed it over by then
        while not phone.idle():
            await asyncio.sleep(ANNOUNCE_POLL_S)
        self._carry(self.machine.announced(call, time.monotonic()))

    def _open_mic(self, call: str) -> None:
        from drivers.audio import AudioUnavailable
        from hub.voice.call_audio import CallAudio  # the voice stack: only once a call opens

        assert self._phone is not None
        audio = CallAudio(self._phone, call, self.publish_voice, speakerphone_echo=True,
                          bitrate=self._cfg.voice.bitrate)
        audio.volume = self._cfg.speaker.volume
        try:
            audio.start()
        except (AudioUnavailable, RuntimeError) as e:
            log.error("call %s: the microphone would not open: %s", call, e)
            self._carry(self.machine.end(call, EndReason.NO_AUDIO, time.monotonic()))
            return
        self.audio = audio
        alarm = self.call.alarm if self.call else None
        log.info("call %s: microphone open (%s)", call, f"alarm {alarm}" if alarm else "visit")
        self._mic_opened(alarm)

    def _close_mic(self) -> None:
        if self.audio:
            stats = self.audio.stats
            self.audio.stop()
            log.info("call %s: microphone closed; sent %d packets, received %d, lost %d",
                     self.audio.call, stats["sent_packets"], stats["received_packets"],
                     stats["lost"])
            self.audio = None
        if self._phone and self._phone.mic_open:  # never: the speakerphone is ours alone
            log.error("the microphone is still open after the call; closing it")
            self._phone.end_call()
        self._mic_closed()

    def _send(self, r: Report) -> None:
        data = {"call": r.call, "ref": r.alarm, "visit": r.visit,
                "reason": r.reason.value if r.reason else None, "seconds": r.seconds}
        log.info("%s %s %s", r.kind, r.call, r.reason or "")
        self._report(Event(kind=r.kind, source="hub",
                           data={k: v for k, v in data.items() if v is not None}))
