"""Received SMS parts put back together (pure: parts and a clock in, whole messages out).

A long reply arrives as concatenated parts, each in its own storage slot and in any order. A part
whose siblings never come (the sender's phone lost them) is not kept forever: after ``wait_s`` what
arrived is handed on with ``complete=False`` and an ellipsis for each gap, so an officer still
reads it. A part stored twice (the network retried) is read once; both slots are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.modem.pdu import Deliver

REASSEMBLY_S = 120.0  # how long the first part of a message waits for the others
GAP = "…"


@dataclass(frozen=True, slots=True)
class IncomingSms:
    sender: str  # '+8613800138000' (international as the network gives it), or a service number
    text: str
    sent_at: float  # epoch seconds, the service centre's timestamp (the sender's phone clock is not used)
    indexes: tuple[int, ...]  # the storage slots it came from; deleted once the handler has it
    complete: bool = True  # False: parts were missing after the wait; each gap is shown as '…'


@dataclass
class _Partial:
    first_seen: float
    total: int
    parts: dict[int, Deliver] = field(default_factory=dict)  # part number -> part
    indexes: list[int] = field(default_factory=list)


class Inbox:
    def __init__(self, wait_s: float = REASSEMBLY_S) -> None:
        self._wait_s = wait_s
        self._partial: dict[tuple[str, int, int], _Partial] = {}  # (sender, reference, total)

    @property
    def holding(self) -> frozenset[int]:
        """Slots read but not yet handed on (so a sweep does not read them again)."""
        return frozenset(i for p in self._partial.values() for i in p.indexes)

    def add(self, index: int, sms: Deliver, now: float) -> IncomingSms | None:
        """The message this part completes (a single-part SMS completes itself), else None."""
        c = sms.concat
        if c is None:
            return IncomingSms(sms.sender, sms.text, sms.sent_at, (index,))
        key = (sms.sender, c.reference, c.total)
        p = self._partial.setdefault(key, _Partial(now, c.total))
        p.parts.setdefault(c.number, sms)
        p.indexes.append(index)
        if len(p.parts) < p.total:
            return None
        del self._partial[key]
        return _join(p, complete=True)

    def overdue(self, now: float) -> list[IncomingSms]:
        """Messages whose missing parts have not come within the wait: handed on incomplete."""
        late = [k for k, p in self._partial.items() if now - p.first_seen >= self._wait_s]
        return [_join(self._partial.pop(k), complete=False) for k in late]


def _join(p: _Partial, *, complete: bool) -> IncomingSms:
    text = "".join(p.parts[n].text if n in p.parts else GAP for n in range(1, p.total + 1))
    first = p.parts[min(p.parts)]
    return IncomingSms(first.sender, text, first.sent_at, tuple(sorted(p.indexes)), complete)
