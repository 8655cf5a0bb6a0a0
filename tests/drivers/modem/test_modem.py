"""Modem against SimModem over a real pseudo-terminal: sending, replies read and deleted, every failure
reported with its fix, and the port coming back after an unplug or a hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers.modem import (
    IncomingSms,
    InvalidNumber,
    Modem,
    ModemNotAnswering,
    ModemStatus,
    ModemUnavailable,
    NotRegistered,
    SimLocked,
    SimMissing,
    SmsRejected,
)
from drivers.modem.sim import SimModem
from tests.conftest import eventually

MOBILE = "+8613800138000"
ALARM = "【安心】王秀英（东湖村3组12号）按了呼叫按钮，服务站正在处理。能去的请回复1。"


@dataclass
class Heard:
    """What the modem called back with, on the event loop."""

    messages: list[IncomingSms] = field(default_factory=list)
    statuses: list[ModemStatus] = field(default_factory=list)
    fail: int = 0  # on_message raises this many more times

    def message(self, sms: IncomingSms) -> None:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the station's store is busy")
        self.messages.append(sms)

    def status(self, s: ModemStatus) -> None:
        self.statuses.append(s)

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]


Rig = Callable[..., Awaitable[tuple[SimModem, Modem, Heard]]]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """rig(sim=..., **modem_kw) -> a started Modem on a plugged-in SimModem (configured before start)."""
    made: list[SimModem | Modem] = []

    async def make(setup: Callable[[SimModem], object] | None = None,
                   **kw: Any) -> tuple[SimModem, Modem, Heard]:
        link = tmp_path / "dev" / f"modem-{len(made)}"
        sim = SimModem(link=link)
        made.append(sim)
        if setup is not None:
            setup(sim)
        heard = Heard()
        modem = Modem(port=str(link), on_message=heard.message, on_status=heard.status,
                      **{"reopen_s": 0.05, "health_s": 0.3, "sweep_s": 0.5, "command_s": 0.5, "cmgs_s": 2.0,
                         **kw})
        made.append(modem)
        await modem.start()
        return sim, modem, heard

    yield make
    for thing in reversed(made):
        await asyncio.to_thread(thing.close)


async def test_send_chinese_sets_pdu_mode_first(rig: Rig) -> None:
    sim, modem, heard = await rig()
    assert await modem.send("13800138000", ALARM) == [1]
    [sent] = sim.messages()
    assert (sent["to"], sent["text"]) == (MOBILE, ALARM)
    assert abs(sent["time"] - time.time()) < 30  # type: ignore[operator]
    setup = sim.heard[:sim.heard.index("AT+CMGS=" + str(len(bytes.fromhex(sim.sent[0].pdu)) - 1))]
    assert [c for c in ("ATE0", "AT+CMEE=1", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"', "AT+CNMI=2,1,0,0,0")
            if c not in setup] == []
    assert heard.states()[0] == "ready"


async def test_concatenated_send_returns_each_parts_reference(rig: Rig) -> None:
    sim, modem, _ = await rig()
    text = ALARM * 3  # 117 characters: two UCS-2 parts
    refs = await modem.send("13800138000", text)
    assert refs == [1, 2]
    assert [(p.concat.number, p.concat.total) for p in sim.sent if p.concat] == [(1, 2), (2, 2)]
    assert sim.sent[0].concat.reference == sim.sent[1].concat.reference  # type: ignore[union-attr]
    assert sim.messages() == [{"to": MOBILE, "text": text, "time": sim.sent[0].time}]
    await modem.send("13800138000", text)  # the next long message gets a new reference
    assert sim.sent[2].concat.reference != sim.sent[0].concat.reference  # type: ignore[union-attr]


async def test_english_goes_gsm7(rig: Rig) -> None:
    sim, modem, _ = await rig()
    await modem.send("+8613800138000", "Wang Xiuying pressed the call button. Reply 1 if you can go.")
    assert sim.sent[0].pdu[26:28] == "00" and sim.sent[0].text.startswith("Wang Xiuying")


async def test_bad_number_is_refused_before_the_modem_sees_it(rig: Rig) -> None:
    sim, modem, _ = await rig()
    with pytest.raises(InvalidNumber):
        await modem.send("1380013800", "到")
    assert not any(c.startswith("AT+CMGS") for c in sim.heard)


async def test_reply_is_read_handed_on_and_deleted(rig: Rig) -> None:
    sim, _, heard = await rig()
    [slot] = sim.inject("13900139000", "收到")
    sms = await eventually(lambda: heard.messages, what="the reply")
    assert (sms[0].sender, sms[0].text, sms[0].indexes, sms[0].complete) == (
        "+8613900139000", "收到", (slot,), True)
    await eventually(lambda: not sim.slots, what="the slot deleted")
    assert f"AT+CMGR={slot}" in sim.heard and f"AT+CMGD={slot}" in sim.heard


async def test_long_reply_is_joined_and_every_slot_deleted(rig: Rig) -> None:
    sim, _, heard = await rig()
    text = "我是王建国，我在县城开会，已经让邻居李大姐先过去看看，我大概四十分钟后到家。" * 4
    slots = sim.inject("13900139000", text)
    assert len(slots) == 3
    await eventually(lambda: heard.messages, what="the joined reply")
    assert [m.text for m in heard.messages] == [text] and heard.messages[0].indexes == tuple(slots)
    await eventually(lambda: not sim.slots, what="all slots deleted")


async def test_replies_that_came_while_the_driver_was_down_are_swept_up(rig: Rig) -> None:
    def before_start(sim: SimModem) -> None:
        sim.inject("13900139000", "1")
        sim.inject("13700137000", "到")

    sim, _, heard = await rig(before_start)
    await eventually(lambda: len(heard.messages) == 2, what="both replies")
    assert sorted(m.text for m in heard.messages) == ["1", "到"]
    assert any(c == "AT+CMGL=4" for c in sim.heard)
    await eventually(lambda: not sim.slots, what="both deleted")


async def test_a_failing_handler_leaves_the_reply_on_the_sim_for_the_next_sweep(rig: Rig) -> None:
    sim, _, heard = await rig()
    heard.fail = 1
    [slot] = sim.inject("13900139000", "1")
    await eventually(lambda: heard.messages, what="the reply, at the second try")
    # the slot is deleted once the handler has taken it, a moment after
    await eventually(lambda: f"AT+CMGD={slot}" in sim.heard, what="the slot deleted")
    assert heard.messages[0].text == "1" and sim.heard.count(f"AT+CMGD={slot}") == 1
    assert len(heard.messages) == 1


async def test_an_unreadable_pdu_is_logged_and_deleted(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    sim, modem, heard = await rig()
    slot = sim.inject_pdu("0891683108100005F0040D91683109109300F00004625010800300230301FF02")  # 8-bit data
    await eventually(lambda: slot not in sim.slots, what="the slot deleted")
    assert modem.unreadable == 1 and heard.messages == []
    assert "cannot be read" in caplog.text and "0891683108100005F0" in caplog.text


async def test_status_reads_sim_network_signal_operator(rig: Rig) -> None:
    _, modem, _ = await rig()
    s = await modem.status()
    assert (s.state, s.sim, s.registration, s.signal_dbm, s.bars, s.operator, s.technology, s.model) == (
        "ready", "READY", "home", -65, 4, "CHINA MOBILE", "LTE", "Quectel EC25")


async def test_no_sim(rig: Rig) -> None:
    sim, modem, heard = await rig(lambda s: setattr(s, "sim", "NOT INSERTED"))
    s = await modem.status()
    assert s.state == "no_sim" and "insert a SIM" in s.trouble.fix  # type: ignore[union-attr]
    assert heard.states() == ["no_sim"]
    with pytest.raises(SimMissing, match="310"):
        await modem.send("13800138000", ALARM)
    sim.sim = "READY"  # inserted (and the modem restarted): the next health check sets SMS up
    await eventually(lambda: heard.states()[-1] == "ready", what="ready after the SIM is in")
    assert 'AT+CPMS="SM","SM","SM"' in sim.heard
    assert await modem.send("13800138000", ALARM) == [1]


async def test_sim_pin_without_a_configured_pin(rig: Rig) -> None:
    _, modem, _ = await rig(lambda s: setattr(s, "sim", "SIM PIN"))
    s = await modem.status()
    assert s.state == "sim_locked" and "modem.pin" in s.trouble.fix  # type: ignore[union-attr]
    with pytest.raises(SimLocked):
        await modem.send("13800138000", ALARM)


async def test_configured_pin_unlocks(rig: Rig) -> None:
    _, modem, _ = await rig(lambda s: setattr(s, "sim", "SIM PIN"), pin="1234")
    assert (await modem.status()).state == "ready"
    assert await modem.send("13800138000", ALARM) == [1]


async def test_a_wrong_pin_is_tried_once_only(rig: Rig) -> None:
    sim, modem, heard = await rig(lambda s: setattr(s, "sim", "SIM PIN"), pin="0000")
    assert (await modem.status()).state == "sim_locked"
    await modem.status()
    await asyncio.sleep(0.7)  # two more health checks
    assert sum(c.startswith("AT+CPIN=") for c in sim.heard) == 1 and sim.sim == "SIM PIN"
    assert "incorrect password" in heard.statuses[0].trouble.problem  # type: ignore[union-attr]


async def test_not_registered(rig: Rig) -> None:
    _, modem, _ = await rig(lambda s: setattr(s, "registration", 2))
    s = await modem.status()
    assert (s.state, s.registration) == ("not_registered", "searching")
    with pytest.raises(NotRegistered) as e:
        await modem.send("13800138000", ALARM)
    assert "331" in e.value.problem and "antenna" in e.value.fix


async def test_weak_signal_is_reported_but_sends(rig: Rig) -> None:
    _, modem, _ = await rig(lambda s: setattr(s, "rssi", 5))
    s = await modem.status()
    assert (s.state, s.signal_dbm, s.bars, s.ok) == ("weak_signal", -103, 1, True)
    assert "window" in s.trouble.fix  # type: ignore[union-attr]
    assert await modem.send("13800138000", ALARM) == [1]


@pytest.mark.parametrize(("code", "words"), [(330, "SMS centre"), (500, "signal"), (21, "retried")])
async def test_cms_error_is_typed_with_its_fix(rig: Rig, code: int, words: str) -> None:
    sim, modem, _ = await rig()
    sim.fail_sends(code)
    with pytest.raises(SmsRejected) as e:
        await modem.send("13800138000", ALARM)
    assert e.value.cms == code and words in e.value.fix and e.value.sent == ()
    assert await modem.send("13800138000", ALARM) == [1]  # the next one goes


async def test_a_part_refused_after_others_went_says_which_went(rig: Rig) -> None:
    sim, modem, _ = await rig()
    sim.fail_sends(42, after=1)
    with pytest.raises(SmsRejected) as e:
        await modem.send("13800138000", ALARM * 3)
    assert e.value.sent == (1,) and "part 2 of 2" in e.value.problem and len(sim.sent) == 1


async def test_a_modem_that_stops_answering_is_reported_and_reopened(rig: Rig) -> None:
    sim, modem, heard = await rig()
    sim.go_silent()
    started = time.monotonic()
    with pytest.raises(ModemNotAnswering):
        await modem.send("13800138000", ALARM)
    assert time.monotonic() - started < 5  # the prompt timeout, not the network's
    await eventually(lambda: "not_answering" in heard.states(), what="not_answering reported")
    with pytest.raises(ModemNotAnswering):  # fails fast while it is silent
        await modem.send("13800138000", ALARM)
    sim.resume()
    await eventually(lambda: heard.states()[-1] == "ready", what="ready again")
    assert await modem.send("13800138000", ALARM) == [1]
    assert heard.states().count("not_answering") == 1  # reported once, not per retry


async def test_a_vanished_modem_is_reported_and_reopened(rig: Rig) -> None:
    sim, modem, heard = await rig()
    sim.unplug()
    await eventually(lambda: "unavailable" in heard.states(), what="unavailable reported")
    with pytest.raises(ModemUnavailable) as e:
        await modem.send("13800138000", ALARM)
    assert "/dev/ttyUSB2" in e.value.fix
    sim.plug()
    await eventually(lambda: heard.states()[-1] == "ready", what="ready again")
    assert await modem.send("13800138000", ALARM) == [1]
    assert heard.states().count("unavailable") == 1


async def test_a_modem_that_rebooted_is_set_up_again(rig: Rig) -> None:
    """After a reboot the sim is in text mode and refuses PDUs (+CMS ERROR 304): the driver must
    notice the boot URCs and set PDU mode again."""
    sim, modem, _ = await rig()
    sim.reboot()
    await eventually(lambda: sim.heard.count("AT+CMGF=0") == 2, what="PDU mode set again")
    assert await modem.send("13800138000", ALARM) == [1]


async def test_a_missing_port_is_reported_at_start(tmp_path: Path) -> None:
    heard = Heard()
    modem = Modem(port=str(tmp_path / "nothing"), on_status=heard.status, reopen_s=0.05)
    try:
        s = await modem.start()
        assert s.state == "unavailable" and "cannot be opened" in s.trouble.problem  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
        assert heard.states() == ["unavailable"]  # once, however often it retries
        with pytest.raises(ModemUnavailable):
            await modem.send("13800138000", ALARM)
    finally:
        await asyncio.to_thread(modem.close)
