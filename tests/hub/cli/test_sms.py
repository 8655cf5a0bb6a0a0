"""The station's SMS channel against the simulated modem on a real pseudo-terminal: a message
out (Chinese, concatenated, read back from the PDUs), a reply in as the station hears it, and
every failure classed as the worker must treat it, with the modem's trouble and its fix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.station.notify.channel import ChannelError, Incoming, Message, Trouble
from console.station.notify.worker import ChannelWorker
from drivers.modem.sim import SimModem
from hub.cli.sms import SmsChannel
from tests.conftest import eventually

TEXT = ("【安心】王秀英（青石镇桃源村三组12号，村委会往东200米）紧急呼叫（卧室床头） 02:27。"
        "钥匙：王建国（儿子） 138-0000-0001。回复1确认，到达后回复到。")
FAST = {"reopen_s": 0.05, "health_s": 0.3, "sweep_s": 0.5, "command_s": 0.5, "cmgs_s": 2.0}


class Ear:
    def __init__(self) -> None:
        self.replies: list[Incoming] = []
        self.troubles: list[Trouble | None] = []

    async def reply(self, r: Incoming) -> None:
        self.replies.append(r)

    def trouble(self, t: Trouble | None) -> None:
        self.troubles.append(t)


@pytest.fixture
async def sms(tmp_path: Path) -> AsyncIterator[tuple[SimModem, SmsChannel, Ear]]:
    link = tmp_path / "dev" / "modem"
    sim = SimModem(link=link)
    channel = SmsChannel(port=str(link), sim=sim, **FAST)
    ear = Ear()
    await channel.listen(ear.reply, ear.trouble)
    yield sim, channel, ear
    await channel.aclose()


def msg(to: str = "13800000001", text: str = TEXT, key: str = "n1") -> Message:
    return Message(key=key, text=text, to=(to,))


async def test_a_chinese_message_goes_out_in_parts_and_reads_back_whole(
        sms: tuple[SimModem, SmsChannel, Ear]) -> None:
    sim, channel, _ = sms
    assert channel.posts(msg()) == 2  # 98 characters: two UCS-2 parts of 67
    sent = await channel.send(msg())
    assert (sent.channel, sent.key, sent.posts) == ("sms", "n1", 2)
    assert sim.messages() == [{"to": "+8613800000001", "text": TEXT, "time": sim.sent[0].time}]


async def test_a_reply_reaches_the_station_with_the_sender_as_its_11_digits(
        sms: tuple[SimModem, SmsChannel, Ear]) -> None:
    sim, _, ear = sms
    sim.inject("+8613900000002", "收到")
    await eventually(lambda: ear.replies, what="the reply heard")
    r = ear.replies[0]
    assert (r.channel, r.sender, r.text) == ("sms", "13900000002", "收到") and r.sent_at > 0
    await eventually(lambda: not sim.slots, what="the reply deleted from the SIM once taken")


async def test_a_wrong_number_fails_at_once_and_a_passing_fault_is_tried_again(
        sms: tuple[SimModem, SmsChannel, Ear]) -> None:
    sim, channel, _ = sms
    sim.fail_sends(1)  # unassigned number
    with pytest.raises(ChannelError) as wrong:
        await channel.send(msg())
    assert (wrong.value.code, wrong.value.retryable, wrong.value.down) == ("sms.cms_1", False, False)
    sim.fail_sends(42)  # congestion
    with pytest.raises(ChannelError) as busy:
        await channel.send(msg())
    assert (busy.value.retryable, busy.value.down) == (True, False)
    with pytest.raises(ChannelError, match=r"sms\.number"):
        channel.posts(msg(to="138000000011"))


async def test_a_sim_taken_out_is_station_trouble_with_the_fix_and_messages_wait_for_it(
        sms: tuple[SimModem, SmsChannel, Ear]) -> None:
    sim, channel, ear = sms
    sim.sim = "NOT INSERTED"
    await eventually(lambda: ear.troubles and ear.troubles[-1], what="the trouble reported")
    trouble = ear.troubles[-1]
    assert trouble is not None and trouble.code == "sms.no_sim" and "insert a SIM" in trouble.fix
    with pytest.raises(ChannelError) as e:
        await channel.send(msg())
    assert e.value.down and "insert a SIM" in e.value.fix
    sim.sim = "READY"
    await eventually(lambda: ear.troubles[-1] is None, what="the trouble cleared")
    await channel.send(msg(key="n2"))


async def test_a_modem_unplugged_holds_the_queue_and_a_message_goes_when_it_is_back(
        sms: tuple[SimModem, SmsChannel, Ear]) -> None:
    sim, channel, ear = sms
    sent, failed, waits = [], [], []
    worker = ChannelWorker(channel, on_sent=lambda m, s: sent.append(m.key),
                           on_failed=lambda m, e: failed.append(e),
                           on_retry=lambda m, e, n, at: waits.append((e.code, n)))
    sim.unplug()
    await eventually(lambda: ear.troubles and ear.troubles[-1], what="unplugged: trouble")
    assert ear.troubles[-1] is not None and ear.troubles[-1].code == "sms.unavailable"
    worker.submit(msg())
    for _ in range(3):  # the channel is down: the message waits, counting no try
        await worker.round()
        worker.queue.unhold()  # (no 30 s waits in a test)
    assert sent == [] and failed == [] and waits and all(n == 0 for _, n in waits)
    sim.plug()
    await eventually(lambda: ear.troubles[-1] is None, what="plugged back: trouble cleared")
    worker.resume()
    await asyncio.wait_for(worker.drain(), 10)
    assert sent == ["n1"] and failed == []
    assert [m["text"] for m in sim.messages()] == [TEXT]
