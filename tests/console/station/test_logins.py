"""Nobody who can send requests can keep an officer from logging in: not by flooding the
station with logins, not by guessing her password at another console, not with a request
stamped years ahead. A real Mosquitto and the real station service; the real scrypt cost
where the cost is what is attacked.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from console.station import service
from console.station.config import StationConfig
from console.station.login_queue import PER_CONSOLE, QUEUE, LoginQueue
from console.station.service import StationService
from console.station.trust.broker import Mosquitto
from console.station.users import Role
from console.tui.client import StationClient
from hub.common import wire
from hub.common.events import new_id
from hub.common.transport import BrokerConfig, PahoTransport
from tests.conftest import eventually
from tests.support.accounts import PASSWORD, add_users
from tests.support.tls import Peer


def test_the_login_queue_takes_what_it_can_check_within_its_budget() -> None:
    q = LoginQueue(size=QUEUE, per_console=PER_CONSOLE, budget_s=6.0, check_s=0.6)
    assert [q.enter("a") for _ in range(3)] == [True, True, False]  # two per console
    assert all(q.enter(f"c{i}") for i in range(QUEUE - 2))
    assert not q.enter("another") and len(q) == QUEUE  # full
    for c in ["a", "a", *(f"c{i}" for i in range(QUEUE - 2))]:
        q.leave(c)
    for _ in range(20):  # the station is slow today: 2 s a check
        q.checked(2.0)
    assert 1.9 < q.check_s <= 2.0
    assert [q.enter(f"d{i}") for i in range(4)] == [True, True, True, False]  # 3 x 2 s <= 6 s
    for i in range(3):
        q.leave(f"d{i}")
    for _ in range(20):
        q.checked(30.0)  # however slow: one login at a time still gets in
    assert [q.enter(f"e{i}") for i in range(2)] == [True, False]


class Intruder:
    """A bare MQTT client that writes requests as it likes and reads every reply."""

    def __init__(self, port: int) -> None:
        self.peer = Peer(port, None)
        assert self.peer.connect()
        self.peer.subscribe(wire.reply_topic("x").removesuffix("x") + "+")

    def send(self, console: str, op: str = "login", **fields: Any) -> str:
        req = new_id()
        assert not self.peer.publish(wire.request_topic(console), json.dumps({
            "v": 1, "type": "request", "req": req, "console": console, "op": op,
            "ts": time.time(), **fields}).encode()).is_failure
        return req

    def replies(self) -> dict[str, wire.Reply]:
        got = [wire.decode_as(p, wire.Reply) for _, p in list(self.peer.received)]
        return {r.req: r for r in got}

    async def answers(self, sent: list[str], timeout: float = 10) -> list[wire.Reply]:
        """The replies to these requests, in their order, once all have come."""
        got = await eventually(lambda: all(r in (a := self.replies()) for r in sent) and a,
                               timeout=timeout, what=f"answers to {len(sent)} requests")
        return [got[r] for r in sent]


@pytest.fixture
def intruder(broker: Mosquitto) -> Iterator[Intruder]:
    i = Intruder(broker.port)
    yield i
    i.peer.close()


@pytest.fixture
async def station(tmp_path: Path, station_cfg: StationConfig) -> AsyncIterator[StationService]:
    """Zhang's account, with the real password hash (scrypt at its real cost)."""
    add_users(tmp_path / "station.db", ("zhang", "张三", Role.DUTY))
    async with StationService(station_cfg) as st:
        await eventually(lambda: st.t.connected, what="the station connected")
        yield st


async def desk(station: StationService, console_id: str) -> StationClient:
    """Zhang's console, with its own console id; answered once the station is there."""
    online: list[wire.StationStatus | None] = []
    c = StationClient(transport=PahoTransport(
        broker=BrokerConfig(port=station.cfg.broker.port), client_id=f"anxin-{console_id}",
        loop=asyncio.get_running_loop(), persistent_session=False), console_id=console_id,
        on_changed=lambda _: None, on_station=online.append)
    c.start()
    await eventually(lambda: any(s and s.online for s in online), what="the console sees the station")
    return c


async def timed_login(c: StationClient, timeout: float = 10) -> tuple[wire.Reply, float]:
    t0 = time.monotonic()
    reply = await c.login("zhang", PASSWORD, timeout=timeout)
    return reply, time.monotonic() - t0


async def test_forty_bogus_logins_from_one_console_do_not_make_hers_time_out(
        station: StationService, intruder: Intruder) -> None:
    sent = [intruder.send("intruder", user=f"nobody{i}", password="guess-guess") for i in range(40)]
    c = await desk(station, "desk-zhang")
    try:
        reply, took = await timed_login(c)
        assert reply.ok, f"{reply} after {took:.1f} s"
        codes = [r.code for r in await intruder.answers(sent)]
        # refused at once, unchecked: all but the few that got a place as checks ended
        assert codes.count("busy") >= len(sent) // 2, codes
    finally:
        c.close()


async def test_forty_bogus_logins_from_forty_consoles_get_her_an_answer_at_once(
        station: StationService, intruder: Intruder) -> None:
    """The console id is the request's own word: a flood naming many fills the queue. She is
    then told the station is busy (never left to time out), and gets in once it has drained."""
    for i in range(40):
        intruder.send(f"forged-{i}", user=f"nobody{i}", password="guess-guess")
    c = await desk(station, "desk-zhang")
    try:
        reply, took = await timed_login(c)
        assert reply.ok or reply.code == "busy", reply
        assert took < 5, f"answered after {took:.1f} s"
        busy = [r for r in intruder.replies().values() if r.code == "busy"]
        assert len(busy) >= 40 // 2
        while not reply.ok:
            assert reply.code == "busy", reply
            reply, took = await timed_login(c)
    finally:
        c.close()


async def test_a_login_that_waited_past_the_request_age_is_not_checked(
        station: StationService, intruder: Intruder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A console stops waiting after the request age: the station does not spend a password
    check on a login that waited longer for its turn."""
    monkeypatch.setattr(service, "REQUEST_MAX_AGE_S", 1.0)  # a check takes ~0.6 s: a few fit
    sent = [intruder.send(f"forged-{i}", user=f"nobody{i}", password="guess-guess")
            for i in range(QUEUE)]
    codes = [r.code for r in await intruder.answers(sent, timeout=30)]
    checked = [e for e in station.store.audit_entries() if e.action == "login.failed"]
    assert "expired" in codes, codes
    assert codes.count("bad_login") == len(checked) == len(sent) - codes.count("expired")


async def test_wrong_passwords_at_another_console_do_not_lock_her_out_at_hers(
        station: StationService, intruder: Intruder, cheap_passwords: None) -> None:
    codes = []
    for i in range(6):  # one at a time: each is checked
        sent = intruder.send("intruder", user="zhang", password=f"guess-{i}")
        codes += [r.code for r in await intruder.answers([sent])]
    assert codes == ["bad_login"] * 5 + ["locked"]
    c = await desk(station, "desk-zhang")
    try:
        reply, _ = await timed_login(c)
        assert reply.ok, reply
        later = intruder.send("intruder", user="zhang", password=PASSWORD)
        assert (await intruder.answers([later]))[0].code == "locked"  # it stays where earned
    finally:
        c.close()


async def test_a_request_stamped_ahead_of_the_station_clock_is_refused(
        station: StationService, intruder: Intruder, cheap_passwords: None) -> None:
    three_years = 3 * 365 * 24 * 3600
    ahead = intruder.send("desk1", user="zhang", password=PASSWORD, ts=time.time() + three_years)
    near = intruder.send("desk1", user="zhang", password=PASSWORD, ts=time.time() + 2)
    refused, accepted = await intruder.answers([ahead, near])
    assert (refused.ok, refused.code, refused.session) == (False, "clock", None)
    assert "ahead of the station's" in (refused.error or "")
    assert accepted.ok  # a couple of seconds are within the skew
