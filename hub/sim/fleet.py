"""Many simulated hubs in one process, each speaking to the station exactly as a hub does.

Each :class:`SimHub` is a hub's own link, not an imitation: its outbox is the hub's
(:class:`~hub.runtime.store.HubStore`, in memory rather than on an SD card), alarms go in as
the hub raises them (:class:`~hub.runtime.outbox.Outbox`), and the hub's
:class:`~hub.runtime.uplink.Uplink` sends them: a persistent MQTT session as
``anxin-hub-<id>``, the retained status and its last will, heartbeats, the two lanes with
their epoch, sequence numbers and ``prev``, the station's acks, its ``resend``, and go-back-N
after ``retry_s``. Only the network loop differs (:mod:`hub.sim.paho_loop`: no thread per
client). The sensors, rules and voice of a home are not simulated: a press is the alarm the
rules make of a call button.

Hubs start at random times over ``ramp_s``; with a ramp as long as the heartbeat period their
heartbeats are spread as those of hubs that booted at different times (a hub does not jitter
its own heartbeat). :class:`Fleet` records each alarm's press time and when its ack came back.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.common.events import Event
from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.runtime.outbox import Outbox
from hub.runtime.store import HubStore
from hub.runtime.uplink import Uplink, last_will
from hub.sim.paho_loop import LoopTransport, Ticker

log = logging.getLogger(__name__)


def hub_ids(n: int, *, first: int = 1, prefix: str = "h") -> list[str]:
    """``h00001``, ``h00002`` …: the ids tests/support/population.py gives elder records."""
    return [f"{prefix}{i:05d}" for i in range(first, first + n)]


@dataclass(slots=True)
class Press:
    """One alarm raised by the generator: wall-clock times, comparable with the station's."""

    id: str
    hub: str
    pressed: float
    acked: float | None = None  # when the station's ack reached the hub
    acks: int = 0  # acks heard: more than one when the hub sent it again, stored already


class SimHub:
    """One home's outbox and uplink on the fleet's loop."""

    def __init__(self, hub: str, *, broker: BrokerConfig, link: LinkConfig, ticker: Ticker,
                 loop: asyncio.AbstractEventLoop, acked: Callable[[str], None]) -> None:
        self.id = hub
        self.store = HubStore(Path(":memory:"))
        self.outbox = Outbox(self.store, hub, keep_acked_days=0)
        self._acked = acked
        transport = LoopTransport(broker=broker, client_id=f"anxin-hub-{hub}", loop=loop,
                                  ticker=ticker, will=last_will(hub))
        self.link = Uplink(hub=hub, transport=transport, store=self.store, config=link,
                           on_ack=self._on_ack, on_update=lambda _u: None)
        self.outbox.wake = self.link.push
        self.started = False

    def start(self) -> None:
        self.started = True
        self.link.start()

    def press(self) -> str:
        """A call button pressed: the panic alarm the hub's rules raise for it, committed to the
        outbox and published."""
        ev = Event(kind="button.press", source="bedside", alarm="panic",
                   data={"location": "卧室床头"})
        self.outbox.raise_alarm(ev)
        return ev.id

    def _on_ack(self, ids: list[str], station_ts: float) -> None:
        self.store.ack(ids, station_ts)  # as the hub's alarms do: pending no more
        for i in ids:
            self._acked(i)

    def close(self) -> None:
        if self.started:
            self.link.close()
        self.store.close()


class Fleet:
    """``n`` simulated hubs against one broker. Use ``async with Fleet(…) as fleet:``.
    ``broker`` may be a function of the hub id: under TLS each hub shows its own certificate
    (a county's NATS allow-lists hold each hub to its own topics)."""

    def __init__(self, ids: list[str], *, broker: BrokerConfig | Callable[[str], BrokerConfig],
                 link: LinkConfig | None = None, seed: int = 20) -> None:
        self.ids = ids
        self.broker = broker
        self.link = link or LinkConfig()
        self.rnd = random.Random(seed)
        self.presses: dict[str, Press] = {}
        self.hubs: dict[str, SimHub] = {}
        self._ticker = Ticker()
        self._starting: list[asyncio.TimerHandle] = []

    async def __aenter__(self) -> Fleet:
        loop = asyncio.get_running_loop()
        for hub in self.ids:
            broker = self.broker(hub) if callable(self.broker) else self.broker
            self.hubs[hub] = SimHub(hub, broker=broker, link=self.link, ticker=self._ticker,
                                    loop=loop, acked=self._acked)
        self._ticker.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        for h in self._starting:
            h.cancel()
        for hub in self.hubs.values():
            hub.close()
        await self._ticker.close()
        for hub in self.hubs.values():
            await hub.link.tasks.close()

    def start(self, ramp_s: float = 0.0) -> None:
        """Each hub starts (connects, says it is online, starts its heartbeat) at a random
        time within ``ramp_s`` from now."""
        loop = asyncio.get_running_loop()
        for hub in self.hubs.values():
            self._starting.append(loop.call_later(self.rnd.uniform(0, ramp_s), hub.start))

    def connected(self) -> int:
        return sum(h.link.reachable for h in self.hubs.values())

    async def until_reachable(self, timeout: float) -> int:
        """Wait until every hub is connected and sees the station online (or ``timeout``);
        returns how many are."""
        deadline = time.monotonic() + timeout
        while (n := self.connected()) < len(self.hubs) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        return n

    def press(self, hub: str) -> Press:
        p = Press(id="", hub=hub, pressed=time.time())
        p.id = self.hubs[hub].press()
        self.presses[p.id] = p
        return p

    def _acked(self, alarm: str) -> None:
        if (p := self.presses.get(alarm)) is not None:
            p.acks += 1
            if p.acked is None:
                p.acked = time.time()

    async def alarms(self, per_hub_per_s: float, duration_s: float) -> int:
        """Alarms at random (a Poisson process) from random hubs, at ``per_hub_per_s`` each,
        for ``duration_s``; returns how many were raised."""
        rate = per_hub_per_s * len(self.hubs)
        if rate <= 0:
            await asyncio.sleep(duration_s)
            return 0
        end = time.monotonic() + duration_s
        hubs, n = list(self.hubs), 0
        next_at = time.monotonic() + self.rnd.expovariate(rate)
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self.press(self.rnd.choice(hubs))
            n += 1
            next_at += self.rnd.expovariate(rate)
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        return n

    async def storm(self, k: int, within_s: float) -> list[Press]:
        """``k`` alarms from ``k`` different homes, each at a random moment within
        ``within_s``."""
        hubs = self.rnd.sample(list(self.hubs), k)
        start = time.monotonic()
        out = []
        for at, hub in sorted((self.rnd.uniform(0, within_s), h) for h in hubs):
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            out.append(self.press(hub))
        return out

    async def until_acked(self, presses: list[Press], timeout: float) -> int:
        """Wait until each of ``presses`` is acknowledged (or ``timeout``); returns how many
        are."""
        deadline = time.monotonic() + timeout
        while (n := sum(p.acked is not None for p in presses)) < len(presses) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return n
