"""The home's voice call as a state machine: control messages, packets and a clock in, effects
out. Sans-IO: :mod:`hub.runtime.call_session` plays the announcement, opens and closes the
microphone and sends the reports.

A call starts *announcing*: the elder first hears why the microphone is about to open (the
chime and ``visit_call``, or ``officer_on_line`` when the elder called for help), and only
when that has been played does the call *open*. It ends on the station's hangup, on the
elder's cancel gesture, when no packet has come from the station for ``silence_s``, after
``max_s``, or when the announcement cannot be played. At most one call at a time: another
start is refused with ``hub_busy`` and the open call goes on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from hub.rules.feedback import Say

ANNOUNCE_TONE = "announce"  # config/prompts/tones/announce.wav
REMEMBER_ENDED = 32  # ended calls whose repeated start (QoS 1 redelivers) is ignored


class Phase(StrEnum):
    ANNOUNCING = "announcing"  # prompt playing, microphone closed
    OPEN = "open"  # microphone open, voice both ways


class EndReason(StrEnum):
    """Why a call ended, as reported in ``call.end`` (docs/events.md)."""

    HANGUP = "hangup"  # the officer hung up (or the station ended it)
    ELDER_HANGUP = "elder_hangup"  # the cancel button, or a long press, during the call
    TIMEOUT = "timeout"  # nothing from the station for silence_s
    MAX_LENGTH = "max_length"  # the call reached max_s
    HUB_BUSY = "hub_busy"  # refused: another call is open
    NO_AUDIO = "no_audio"  # refused or ended: no speaker/microphone, or the announcement failed
    HUB_STOPPED = "hub_stopped"  # the hub service stopped during the call


@dataclass(frozen=True, slots=True)
class Limits:
    silence_s: float = 20.0  # no voice packet from the station this long: the call is gone
    max_s: float = 1800.0  # the longest call
    announce_s: float = 15.0  # the announcement must have been played by then


@dataclass(frozen=True, slots=True)
class Announce:
    """Play ``tone`` (if any) then ``prompt``; call :meth:`CallMachine.announced` when done."""

    call: str
    tone: str | None
    prompt: str


@dataclass(frozen=True, slots=True)
class OpenMic:
    call: str


@dataclass(frozen=True, slots=True)
class CloseMic:
    call: str


@dataclass(frozen=True, slots=True)
class Report:
    """A ``call.open`` / ``call.end`` event for the station."""

    kind: str
    call: str
    alarm: str | None
    visit: str | None
    reason: EndReason | None = None
    seconds: float | None = None  # call.end of an opened call: how long the microphone was open


Effect = Announce | OpenMic | CloseMic | Report | Say


@dataclass(slots=True)
class Call:
    id: str
    alarm: str | None
    visit: str | None
    phase: Phase
    started: float  # monotonic clock
    opened: float | None = None
    heard: float = 0.0  # the latest packet from the station (or the opening)


class CallMachine:
    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self.call: Call | None = None
        self._ended: deque[str] = deque(maxlen=REMEMBER_ENDED)

    @property
    def mic_open(self) -> bool:
        return self.call is not None and self.call.phase is Phase.OPEN

    def start(self, call: str, *, alarm: str | None, visit: str | None, announce: bool,
              now: float) -> list[Effect]:
        if call in self._ended or (self.call and self.call.id == call):
            return []  # a repeated start
        if self.call is not None:
            return [Report("call.end", call, alarm, visit, EndReason.HUB_BUSY)]
        self.call = Call(call, alarm, visit, Phase.ANNOUNCING, started=now)
        if announce:
            return [Announce(call, ANNOUNCE_TONE, "visit_call")]
        return [Announce(call, None, "officer_on_line")]

    def announced(self, call: str, now: float) -> list[Effect]:
        """The announcement has been played: open the microphone."""
        c = self.call
        if c is None or c.id != call or c.phase is not Phase.ANNOUNCING:
            return []
        c.phase, c.opened, c.heard = Phase.OPEN, now, now
        return [OpenMic(call), Report("call.open", call, c.alarm, c.visit)]

    def packet(self, call: str, now: float) -> bool:
        """A voice packet from the station: True if it belongs to the open call."""
        c = self.call
        if c is None or c.id != call or c.phase is not Phase.OPEN:
            return False
        c.heard = now
        return True

    def end(self, call: str | None, reason: EndReason, now: float) -> list[Effect]:
        """End ``call`` (None: whichever is going on); nothing if it is not the current one."""
        c = self.call
        if c is None or (call is not None and c.id != call):
            return []
        self.call = None
        self._ended.append(c.id)
        if c.opened is None:
            return [Report("call.end", c.id, c.alarm, c.visit, reason)]
        out: list[Effect] = [CloseMic(c.id), Report("call.end", c.id, c.alarm, c.visit, reason,
                                                     seconds=round(now - c.opened, 1))]
        if reason is not EndReason.HUB_STOPPED:
            out.append(Say("call_ended"))
        return out

    def next_deadline(self) -> float | None:
        c, lim = self.call, self.limits
        if c is None:
            return None
        if c.opened is None:
            return c.started + lim.announce_s
        return min(c.heard + lim.silence_s, c.opened + lim.max_s)

    def tick(self, now: float) -> list[Effect]:
        c, lim = self.call, self.limits
        if c is None:
            return []
        if c.opened is None:
            return self.end(c.id, EndReason.NO_AUDIO, now) if now >= c.started + lim.announce_s else []
        if now >= c.opened + lim.max_s:
            return self.end(c.id, EndReason.MAX_LENGTH, now)
        if now >= c.heard + lim.silence_s:
            return self.end(c.id, EndReason.TIMEOUT, now)
        return []
