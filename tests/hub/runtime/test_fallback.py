"""The hub's own fallback (hub/runtime/fallback.py): when a life alarm is texted, on a fake
clock; what the text says; the rows that make it once per alarm across a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from drivers.gpio.sim import SimPins
from hub.common import wire
from hub.common.events import FALLBACK_KIND, Event
from hub.runtime.config import HubConfig
from hub.runtime.fallback import Waiting, due, event_id, fallback_event, text
from hub.runtime.service import HubService
from hub.runtime.store import FallbackRow, HubStore
from tests.conftest import eventually

AFTER = 120.0
T0 = 1_765_000_000.0
TZ = ZoneInfo("Asia/Shanghai")


def waiting(id: str = "a1", priority: int = 1, sent: float = T0) -> Waiting:
    return Waiting(id, priority, sent)


@pytest.mark.parametrize(("now", "unreachable_s", "texted"), [
    (T0 + AFTER - 1, AFTER, False),      # the alarm has not waited long enough
    (T0 + AFTER, AFTER, True),            # both long enough: now
    (T0 + AFTER, AFTER - 1, False),       # the station went away only lately: the uplink retries
    (T0 + 10 * AFTER, None, False),       # the station is reachable: it is only slow
    (T0 + 10 * AFTER, 10 * AFTER, True),
])
def test_a_life_alarm_is_texted_once_it_and_the_station_s_absence_are_old_enough(
        now: float, unreachable_s: float | None, texted: bool) -> None:
    assert due([waiting()], now=now, after_s=AFTER, unreachable_s=unreachable_s,
               done=set()) == (["a1"] if texted else [])


def test_only_life_alarms_and_each_once() -> None:
    alarms = [waiting("fall"), waiting("battery", priority=3), waiting("inactive", priority=2),
              waiting("done")]
    assert due(alarms, now=T0 + AFTER, after_s=AFTER, unreachable_s=AFTER,
               done={"done"}) == ["fall"]


def test_the_fake_clock_walks_through_an_outage() -> None:
    """A press at T0, the station gone since T0 - 30: nothing until T0 + 120, then once."""
    gone_at, texted = T0 - 30, []
    done: set[str] = set()
    for now in range(int(T0), int(T0 + 300), 5):
        for a in due([waiting()], now=now, after_s=AFTER, unreachable_s=now - gone_at, done=done):
            texted.append(now)
            done.add(a)
    assert texted == [T0 + AFTER]


def contacts(**over: object) -> wire.HubContacts:
    return wire.HubContacts.model_validate({
        "hub": "h001", "rev": T0, "name": "王秀英", "address": "青石镇桃源村三组12号",
        "directions": "村委会往东200米", "kinds": {"panic": "紧急呼叫"},
        "people": [{"name": "王建国", "phone": "13800000001", "role": "contact", "relation": "儿子"},
                   {"name": "赵志刚", "phone": "13700000009", "role": "on_call"}], **over})


def alarm(ts: float = T0) -> wire.EventMsg:
    return wire.event_msg("h001", Event(kind="button.press", source="bedside", ts=ts, alarm="panic",
                                        data={"location": "卧室床头"}))


def test_the_text_says_who_where_what_when_and_that_the_station_cannot_be_reached() -> None:
    # T0 is 2025-12-06 05:46:40 UTC: 13:46 in the county
    assert text(contacts(), "h001", alarm(), TZ) == (
        "【安心】王秀英（青石镇桃源村三组12号，村委会往东200米）紧急呼叫（卧室床头） 13:46。"
        "服务站暂时联系不上，请尽快联系老人或上门查看。")
    assert text(contacts(language="en", kinds={}, name="", address="", directions=""), "h001",
                alarm(), TZ) == ("[Anxin] h001: panic (卧室床头) at 13:46. The service station "
                                 "cannot be reached just now: please call or go there.")


@pytest.mark.parametrize(("field", "value", "why"), [
    ("people", [{"name": "x", "phone": "110", "role": "contact"}], "should match pattern"),
    ("people", [{"name": "a\u202eb", "phone": "13800000001", "role": "contact"}], "format character"),
    ("people", [{"name": "x", "phone": "13800000001", "role": "contact"}] * 9, "at most 8"),
    ("address", "x" * 201, "at most 200"),
    ("rev", float("nan"), "finite"),
    ("hub", "../h002", "should match pattern"),
])
def test_hostile_contacts_are_refused_saying_why(field: str, value: object, why: str) -> None:
    msg = {**json.loads(wire.encode(contacts())), field: value}
    with pytest.raises(wire.WireError, match=why):
        wire.decode_as(json.dumps(msg, ensure_ascii=False).encode(), wire.HubContacts)


def test_contacts_kept_are_the_newest_and_outlive_a_restart(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.db")
    assert store.keep_contacts("h001", 2.0, b"new")
    assert not store.keep_contacts("h001", 1.0, b"old")  # a stale one arriving late
    store.close()
    assert HubStore(tmp_path / "hub.db").contacts("h001") == b"new"


def test_an_alarm_s_texts_are_planned_once_and_its_event_is_the_same_each_time(tmp_path: Path) -> None:
    store = HubStore(tmp_path / "hub.db")
    row = FallbackRow("a1", "13800000001", {"name": "王建国", "role": "contact", "relation": "儿子"},
                      "text", "queued", None, None)
    store.plan_fallback([row])
    store.plan_fallback([row])  # planned again: ignored
    store.fallback_done("a1", "13800000001", sent=True, at=T0)
    store.close()
    store = HubStore(tmp_path / "hub.db")
    assert store.fallback_alarms() == {"a1"}
    [kept] = store.fallback(unrecorded=True)
    ev = fallback_event("a1", [kept])
    assert (ev.kind, ev.id, ev.ts) == (FALLBACK_KIND, event_id("a1"), T0)
    assert ev.data == {"ref": "a1", "told": [{"name": "王建国", "phone": "13800000001",
                                             "role": "contact", "relation": "儿子", "sent": True,
                                             "at": T0}], "text": "text"}
    wire.event_msg("h001", ev)  # within the wire's bounds
    store.fallback_recorded("a1")
    assert store.fallback(unrecorded=True) == []


async def test_a_modem_that_is_not_there_is_logged_and_the_hub_runs_on(
        tmp_path: Path, hub_cfg: Callable[..., HubConfig], caplog: pytest.LogCaptureFixture) -> None:
    cfg = hub_cfg(modem={"port": str(tmp_path / "no-modem")})
    async with HubService(cfg) as hub:
        await asyncio.to_thread(SimPins(hub.pins).click, 17)
        await eventually(hub.store.open_alarms, what="the alarm raised all the same")
        assert hub.dead_tasks == []
    assert any("no-modem cannot be opened" in r.getMessage() for r in caplog.records)
