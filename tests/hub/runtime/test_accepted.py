"""The elder hears who is coming: the station's AlarmUpdate.accepted becomes the
contact_accepted sentence with the name in it, once per person, only while the call is open."""

from __future__ import annotations

import time

from hub.common import wire
from hub.common.events import AlarmState
from tests.conftest import eventually
from tests.support.home import Home


def accepted(alarm: str, name: str = "王建国", relation: str = "儿子",
             state: AlarmState = AlarmState.DELIVERED) -> wire.AlarmUpdate:
    return wire.AlarmUpdate(id=alarm, state=state, ts=time.time(),
                            accepted=wire.Accepted(name=name, relation=relation))


def sentences(home: Home) -> list[str]:
    speaker = home.hub.speaker
    return [text for _, key, text in speaker.heard if key == "contact_accepted"]  # type: ignore[attr-defined]


async def test_the_elder_hears_the_name_once_and_not_after_the_call_is_closed(home: Home) -> None:
    await home.do("press")
    alarm = (await eventually(home.hub.store.open_alarms, what="the press raised"))[0].id
    home.hub.alarms.station_update(accepted(alarm))
    assert sentences(home) == ["您的儿子王建国已收到，正在赶来"]
    home.hub.alarms.station_update(accepted(alarm))  # the station said it again (a catch-up)
    home.hub.alarms.station_update(accepted(alarm, "李梅", "网格员"))
    assert sentences(home) == ["您的儿子王建国已收到，正在赶来", "您的网格员李梅已收到，正在赶来"]
    home.hub.alarms.station_update(wire.AlarmUpdate(id=alarm, state=AlarmState.RESOLVED, ts=time.time()))
    home.hub.alarms.station_update(accepted(alarm, "赵军", "儿子", AlarmState.RESOLVED))
    assert len(sentences(home)) == 2


async def test_an_update_without_it_says_nothing_of_the_kind(home: Home) -> None:
    await home.do("press")
    alarm = (await eventually(home.hub.store.open_alarms, what="the press raised"))[0].id
    home.hub.alarms.station_update(wire.AlarmUpdate(id=alarm, state=AlarmState.DELIVERED, ts=time.time()))
    assert sentences(home) == []
