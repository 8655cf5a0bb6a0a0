"""The hub's own fallback: a life alarm the station cannot be told of is texted by the hub.

A hub with an SMS modem (hub.yaml ``modem``) keeps the station's retained contacts message
(:class:`hub.common.wire.HubContacts`: the elder's first contact and the on-call officers, the
home's address, the alarm kinds' names) in hub.db, so it has them while offline and after a
restart. A P1 alarm still waiting in the outbox ``fallback_after_s`` after it went in, while the
station has been unreachable that long too, is texted to those people by the hub itself (:func:`due`
decides, on the clock it is given). Each text is a row committed before it is sent; the alarm is
never planned twice, so a restart does not text again, but a row still queued at a restart is
sent then (a crash between the modem taking it and its row saying so sends that one text twice).
When every text is done the hub records a ``notify.fallback`` event in its alarm lane (who, when,
whether it went), so the station hears of it behind the alarm and does not text them again
(console/station/notify/engine.py, :meth:`~console.station.notify.engine.NotifyEngine.fallback`).

The modem is the driver's (:mod:`drivers.modem`), on its own thread; one that fails is logged
and the alarms go on as they always do. With ``backend: sim`` it is a pseudo-terminal modem in
data_dir that records what it sent to ``modem-sent.jsonl`` (``anxin sim HUB modem sent``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from drivers.modem import Modem, ModemError
from drivers.modem.pdu import InvalidNumber, MessageTooLong
from drivers.modem.sim import SimModem
from hub.common import wire
from hub.common.events import FALLBACK_KIND, AlarmState, Event, Priority
from hub.common.language import Language
from hub.runtime.config import HubConfig
from hub.runtime.outbox import Outbox
from hub.runtime.store import FallbackRow, HubStore

log = logging.getLogger(__name__)

EVERY_S = 2.0  # how often the waiting alarms are looked at
SENT_FILE = "modem-sent.jsonl"  # a simulated modem's record of what it sent, in data_dir
SIM_LINK = "modem.tty"
TEXTS: dict[Language, str] = {
    "zh_CN": "【安心】{name}{place}{kind}{where} {time}。服务站暂时联系不上，请尽快联系老人或上门查看。",
    "en": "[Anxin] {name}{place}: {kind}{where} at {time}. The service station cannot be reached "
          "just now: please call or go there.",
}


@dataclass(frozen=True, slots=True)
class Waiting:
    """An alarm in the outbox the station has not acknowledged."""

    id: str
    priority: int
    sent: float  # when it went into the outbox (wall clock)


def due(waiting: Iterable[Waiting], *, now: float, after_s: float, unreachable_s: float | None,
        done: Container[str]) -> list[str]:
    """The alarms to text now: life alarms (P1) waiting ``after_s`` while the station has been
    unreachable that long too (``unreachable_s``; None: it is reachable), not texted before
    (``done``). A station that is only slow to answer is not unreachable: the uplink retries."""
    if unreachable_s is None or unreachable_s < after_s:
        return []
    return [w.id for w in waiting
            if w.priority == Priority.LIFE and w.id not in done and now - w.sent >= after_s]


def text(c: wire.HubContacts, hub: str, msg: wire.EventMsg, tz: tzinfo) -> str:
    """Who, where, what and when, and that the station cannot be reached; nothing medical
    (the hub has nothing medical to say)."""
    zh = c.language == "zh_CN"
    place = (("，" if zh else ", ").join(p for p in (c.address, c.directions) if p))
    where = str(msg.data.get("location") or msg.data.get("room") or "")
    kind = msg.alarm.kind if msg.alarm else msg.kind
    return TEXTS[c.language].format(
        name=c.name or hub, place=(f"（{place}）" if zh else f" ({place})") if place else "",
        kind=c.kinds.get(kind, kind), where=(f"（{where}）" if zh else f" ({where})") if where else "",
        time=f"{datetime.fromtimestamp(msg.ts, tz):%H:%M}")


def event_id(alarm: str) -> str:
    """The notify.fallback event's id, the same each time it is recorded for ``alarm``, so a
    restart between the outbox and the row's mark cannot make the station hear it twice."""
    return hashlib.sha256(f"notify.fallback:{alarm}".encode()).hexdigest()[:32]


def fallback_event(alarm: str, rows: list[FallbackRow]) -> Event:
    told = [{"name": r.person.get("name", ""), "phone": r.phone, "role": r.person.get("role", ""),
             "relation": r.person.get("relation", ""), "sent": r.state == "sent",
             "at": r.at or 0.0, **({"error": r.error[:200]} if r.error else {})}
            for r in rows if r.phone]
    at = max((r.at or 0.0 for r in rows), default=0.0) or time.time()
    return Event(kind=FALLBACK_KIND, source="hub", ts=at, id=event_id(alarm),
                 data={"ref": alarm, "told": told, "text": next((r.text for r in rows if r.text), "")})


class Fallback:
    """The hub's modem and what it texts. ``start`` it on the loop; ``reachable`` follows the
    uplink."""

    def __init__(self, cfg: HubConfig, store: HubStore, outbox: Outbox) -> None:
        assert cfg.modem is not None
        self.cfg, self.store, self.outbox = cfg, store, outbox
        self.sim: SimModem | None = None
        port = cfg.modem.port
        if cfg.modem.backend == "sim":
            port = str(cfg.data_dir / SIM_LINK)
            self.sim = SimModem(link=Path(port), record=self.sent_file(cfg))
        self.modem = Modem(port=port, pin=cfg.modem.pin)  # the driver logs its trouble
        self._unreachable_since: float | None = time.monotonic()  # until the uplink says otherwise
        self._started = False

    @staticmethod
    def sent_file(cfg: HubConfig) -> Path:
        return cfg.data_dir / SENT_FILE

    async def start(self) -> None:
        """Open the modem (its thread retries a port that is missing, and logs why)."""
        self._started = True
        try:
            await self.modem.start()
        except Exception:  # the alarms matter more than the fallback: the hub runs without it
            log.exception("modem %s could not be started: no SMS fallback", self.modem.port)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.modem.close)
        if self.sim is not None:
            self.sim.close()

    def reachable(self, up: bool) -> None:
        if up:
            self._unreachable_since = None
        elif self._unreachable_since is None:
            self._unreachable_since = time.monotonic()

    def contacts(self, c: wire.HubContacts, payload: bytes) -> None:
        """The station's contacts message for this hub (checked by the uplink)."""
        if self.store.keep_contacts(c.hub, c.rev, payload):
            log.info("contacts for the SMS fallback: %d person(s)", len(c.people))

    # --- one round ------------------------------------------------------------------------

    async def round(self) -> None:
        """Plan the texts of alarms now due, send what is queued, record what is done. The
        first round opens the modem (a slow one must not hold up the hub's start)."""
        if not self._started:
            await self.start()
        self.plan()
        await self.send_queued()
        self.record()
        await asyncio.sleep(EVERY_S)

    def plan(self) -> list[str]:
        """Queue the texts of every alarm now due (each alarm once); returns their ids."""
        waiting: dict[str, tuple[Waiting, wire.EventMsg]] = {}
        for a in self.store.open_alarms():
            if a.state is not AlarmState.SENT or a.sent is None:  # held, or acknowledged
                continue
            msg = self._alarm(a.id)
            if msg is not None and msg.alarm is not None:
                waiting[a.id] = Waiting(a.id, msg.alarm.priority, a.sent), msg
        since = self._unreachable_since
        ids = due((w for w, _ in waiting.values()), now=time.time(),
                  after_s=self.cfg.fallback_after_s,
                  unreachable_s=None if since is None else time.monotonic() - since,
                  done=self.store.fallback_alarms())
        for alarm in ids:
            self._plan(alarm, waiting[alarm][1])
        return ids

    def _plan(self, alarm: str, msg: wire.EventMsg) -> None:
        c = self._contacts()
        rows: list[FallbackRow] = []
        if c is not None:
            body = text(c, self.cfg.hub_id, msg, self.cfg.tz)
            rows = [FallbackRow(alarm, p.phone, {"name": p.name, "role": p.role,
                                                "relation": p.relation}, body, "queued", None, None)
                    for p in c.people]
        if not rows:  # nobody to text: said so once, in the alarm lane too
            log.error("alarm %s: the station is unreachable and the hub has no one to text (no "
                      "contacts from the station yet)", alarm)
            rows = [FallbackRow(alarm, "", {}, "", "failed", time.time(), "no_contacts")]
        else:
            log.warning("alarm %s not acknowledged for %.0f s and the station unreachable: "
                        "texting %d person(s) from the hub", alarm, self.cfg.fallback_after_s,
                        len(rows))
        self.store.plan_fallback(rows)

    async def send_queued(self) -> None:
        for r in self.store.fallback(unrecorded=True):
            if r.state != "queued":
                continue
            try:
                await self.modem.send(r.phone, r.text)
            except (InvalidNumber, MessageTooLong, ModemError) as e:
                code = e.code if isinstance(e, ModemError) else "invalid"
                log.error("alarm %s: the hub's text to %s failed: %s", r.alarm, r.phone, e)
                self.store.fallback_done(r.alarm, r.phone, sent=False, at=time.time(), error=code)
            else:
                log.warning("alarm %s: the hub texted %s", r.alarm, r.phone)
                self.store.fallback_done(r.alarm, r.phone, sent=True, at=time.time())

    def record(self) -> None:
        """Alarms whose texts are all done: their notify.fallback event goes into the alarm
        lane, behind the alarm."""
        by_alarm: dict[str, list[FallbackRow]] = {}
        for r in self.store.fallback(unrecorded=True):
            by_alarm.setdefault(r.alarm, []).append(r)
        for alarm, rows in by_alarm.items():
            if any(r.state == "queued" for r in rows):
                continue
            self.outbox.send(fallback_event(alarm, rows), "alarm")
            self.store.fallback_recorded(alarm)

    # --- inside -----------------------------------------------------------------------------

    def _alarm(self, id: str) -> wire.EventMsg | None:
        payload = self.store.payload(id)
        if payload is None:
            return None
        try:
            return wire.decode_as(payload, wire.EventMsg)
        except wire.WireError:
            return None

    def _contacts(self) -> wire.HubContacts | None:
        payload = self.store.contacts(self.cfg.hub_id)
        if payload is None:
            return None
        try:
            return wire.decode_as(payload, wire.HubContacts)
        except wire.WireError as e:  # kept by an older version with other limits
            log.error("the kept contacts can no longer be read (%s)", e)
            return None
