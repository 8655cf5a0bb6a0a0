"""The hub's own fallback (issue 19), with the real parts: a Mosquitto on loopback, the station
service with its simulated modem, a hub with its own simulated modem (backend sim, on a
pseudo-terminal in its data_dir).

The station publishes the hub's contacts and is stopped; the elder presses; fallback_after_s
later the hub texts the on-call officer and the first contact itself (the Chinese read back from
the PDUs its modem got), once, even across a hub restart. The station comes back: it stores the
alarm and the hub's notify.fallback, shows them as told (rows as sent, a timeline note), texts
neither of them again, and its cascade goes on to the next contact."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from console.station import service
from console.station.config import StationConfig
from console.station.notify.engine import NOTE_FALLBACK
from console.station.trust.broker import Mosquitto
from drivers.gpio.sim import SimPins
from drivers.modem.sim import SimModem, recorded
from hub.common import wire
from hub.runtime.config import HubConfig
from hub.runtime.fallback import EVERY_S, Fallback
from hub.runtime.service import HubService
from tests.conftest import eventually
from tests.support.accounts import desk
from tests.support.notify import GRID, NEXT_S, ON_CALL, SON, TZ, sms, station

AFTER_S = 2.0  # fallback_after_s (hub.yaml allows 10 s at least; the test is impatient)


def hub_texts(cfg: HubConfig) -> list[tuple[str, str]]:
    """(to, text) of what the hub's own simulated modem sent, as `anxin sim h001 modem sent`
    reads it: from the record it keeps, which outlives the hub."""
    return [(str(m["to"]).removeprefix("+86"), str(m["text"])) for m in recorded(Fallback.sent_file(cfg))]


async def test_the_hub_texts_the_contacts_itself_and_the_station_reconciles_when_it_is_back(
        notify_cfg: StationConfig, sim: SimModem, modem_link: Path,
        hub_cfg: Callable[..., HubConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    # the alarm reaches the station some 8 s late: as late as a real fallback's alarm, whose
    # notifications wait for what follows it in its lane
    monkeypatch.setattr(service, "LATE_ALARM_S", AFTER_S)
    cfg = hub_cfg(modem={"backend": "sim"}).model_copy(update={"fallback_after_s": AFTER_S})
    async with HubService(cfg) as hub:
        assert hub.fallback is not None
        async with station(notify_cfg, modem_link):
            kept = await eventually(lambda: hub.store.contacts("h001"), what="contacts kept")
        contacts = wire.decode_as(kept, wire.HubContacts)
        assert [(p.phone, p.role) for p in contacts.people] == [(SON, "contact"), (ON_CALL, "on_call")]
        assert contacts.kinds["panic"] == "紧急呼叫"

        # the station is gone (it said so, retained): the elder presses
        await eventually(lambda: not hub.link.reachable, what="station unreachable")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        [alarm] = await eventually(hub.store.open_alarms, what="alarm raised")
        await eventually(lambda: len(hub_texts(cfg)) == 2, timeout=AFTER_S + 15,
                         what="the hub texts on-call and contact 1")
        text = ("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米，门口有棵枣树）紧急呼叫（卧室床头） "
                f"{datetime.fromtimestamp(alarm.raised, TZ):%H:%M}。"
                "服务站暂时联系不上，请尽快联系老人或上门查看。")
        assert hub_texts(cfg) == [(SON, text), (ON_CALL, text)]  # decoded from the PDUs
        for medical in ("高血压", "硝苯地平", "青霉素", "行动不便"):
            assert medical not in text
        await eventually(lambda: not hub.store.fallback(unrecorded=True), what="event recorded")
        assert hub.store.open_alarms()[0].state.value == "sent"  # the station has not got it

    async with HubService(cfg) as hub:  # a hub restart does not text again
        await asyncio.sleep(2 * EVERY_S + 0.5)
        assert len(hub_texts(cfg)) == 2

        async with station(notify_cfg, modem_link) as s:
            await eventually(lambda: s.store.alarm(alarm.id), what="the alarm reaches the station")
            told = await eventually(lambda: [(n.phone, n.topic, n.state) for n in
                                             s.store.notify.for_alarm(alarm.id)
                                             if n.topic == "fallback"], what="the fallback stored")
            assert sorted(told) == sorted([(SON, "fallback", "sent"), (ON_CALL, "fallback", "sent")])
            log = [(actor, note) for _, _, actor, note in s.store.alarm_log(alarm.id)]
            assert ("王建国（儿子）、赵志刚（值班人员）", NOTE_FALLBACK) in log
            # the cascade goes on: the next contact, next_after_s after the hub's text (past)
            await eventually(lambda: sms(sim), timeout=NEXT_S + 10, what="contact 2 texted")
            await asyncio.sleep(NEXT_S + 0.5)
            assert [to for to, _ in sms(sim)] == [GRID]  # nobody the hub told is texted twice
            await eventually(lambda: hub.store.open_alarms()[0].state.value == "delivered",
                             what="the hub has its ack")



async def test_with_the_broker_down_the_hub_texts_and_the_station_reconciles_when_it_is_back(
        notify_cfg: StationConfig, sim: SimModem, modem_link: Path, broker: Mosquitto,
        hub_cfg: Callable[..., HubConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker itself is down while the station runs on: the hub texts the same two people,
    and once the broker is back both sides reconnect, the station hears the alarm and the
    hub's texts, and goes on with the next contact only."""
    monkeypatch.setattr(service, "LATE_ALARM_S", AFTER_S)
    cfg = hub_cfg(modem={"backend": "sim"}).model_copy(update={"fallback_after_s": AFTER_S})
    async with station(notify_cfg, modem_link) as s, HubService(cfg) as hub:
        await eventually(lambda: hub.store.contacts("h001"), what="contacts kept")
        broker.stop()
        await eventually(lambda: not hub.link.reachable, what="station unreachable")
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        [alarm] = await eventually(hub.store.open_alarms, what="alarm raised")
        await eventually(lambda: len(hub_texts(cfg)) == 2, timeout=AFTER_S + 15,
                         what="the hub texts on-call and contact 1")
        assert sorted(to for to, _ in hub_texts(cfg)) == sorted([SON, ON_CALL])
        assert not sms(sim)  # the station never heard of it

        broker.start()
        told = await eventually(lambda: [(n.phone, n.state) for n in
                                         s.store.notify.for_alarm(alarm.id)
                                         if n.topic == "fallback"], timeout=30,
                                what="the alarm and the hub's texts at the station")
        assert sorted(told) == sorted([(SON, "sent"), (ON_CALL, "sent")])
        await eventually(lambda: sms(sim), timeout=NEXT_S + 10, what="contact 2 texted")
        await asyncio.sleep(NEXT_S + 0.5)
        assert [to for to, _ in sms(sim)] == [GRID]  # nobody the hub told is texted twice
        await eventually(lambda: hub.store.open_alarms()[0].state.value == "delivered",
                         what="the hub has its ack")


async def test_the_hub_s_contacts_follow_the_elder_s_record(
        notify_cfg: StationConfig, sim: SimModem, modem_link: Path,
        hub_cfg: Callable[..., HubConfig]) -> None:
    """The officer puts the grid worker first in the record: the hub hears it at once."""
    async with station(notify_cfg, modem_link) as s, HubService(hub_cfg(modem={"backend": "sim"})) as hub, \
            desk(notify_cfg, "zhang") as console:
        def first() -> str | None:
            kept = hub.store.contacts("h001")
            return wire.decode_as(kept, wire.HubContacts).people[0].phone if kept else None

        assert await eventually(first, what="contacts kept") == SON
        elder = s.store.records.elder("h001")
        assert elder is not None
        record = elder.model_dump(mode="json")
        record["contacts"] = record["contacts"][::-1]
        reply = await console.request("elder_save", hub="h001", record=record)
        assert reply.ok, reply.error
        await eventually(lambda: first() == GRID, what="the new first contact kept")
