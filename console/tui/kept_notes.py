"""Alarm notes the station could not take, kept in this console and sent once it can, each
with the time it was written.

A note records what was learnt or done during an alarm, typed while the officer is on it;
asking for it again after an outage would lose it. So a note that does not get through (the
station cannot be reached, cannot write, did not answer, or the session ended) is kept here,
shown on the alarm's timeline as waiting, and sent again, oldest first, whenever the station
is back; the station files it at the time it was written and takes a note it already has
as done. Claims, resolves, steps and records are time-critical or edited on a form that stays
open: those are refused with the reason instead. The notes are kept in memory: leaving the
desk with some still waiting asks first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hub.common import wire

Request = Callable[..., Awaitable[wire.Reply]]  # StationClient.request
KEPT_CODES = frozenset({"station_unreachable", "storage", "login_required"})


def kept_back(reply: wire.Reply) -> bool:
    """A note not stored for a reason that passes: keep it and send it again."""
    no_answer = reply.error is None and reply.code is None
    return not reply.ok and (no_answer or reply.code in KEPT_CODES)


@dataclass(frozen=True, slots=True)
class KeptNote:
    alarm: str
    notes: str
    written: float  # wall clock


class KeptNotes:
    def __init__(self) -> None:
        self.waiting: list[KeptNote] = []
        self._sending = asyncio.Lock()

    def keep(self, note: KeptNote) -> None:
        self.waiting.append(note)

    def of(self, alarm: str) -> list[KeptNote]:
        return [n for n in self.waiting if n.alarm == alarm]

    async def send(self, request: Request) -> list[tuple[KeptNote, wire.Reply]]:
        """Send the waiting notes in order until one does not get through (it and the later
        ones stay); returns each note the station answered, with its answer."""
        answered = []
        async with self._sending:
            while self.waiting:
                note = self.waiting[0]
                reply = await request("alarm_note", note.alarm, notes=note.notes,
                                      written=note.written)
                if kept_back(reply):
                    break
                self.waiting.pop(0)
                answered.append((note, reply))
        return answered
