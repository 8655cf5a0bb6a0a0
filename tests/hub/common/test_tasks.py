"""Long-running tasks (hub/common/tasks.py): a round that fails is logged and the loop goes on; a
task that ends by itself is named as dead, and so is a driver's thread that dies; the log is
not flooded by a round failing again and again; a failure to handle a driver's input never
reaches the driver's own loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.ble.advert import Advert
from drivers.ble.sim import SimSensor
from drivers.radar.port import RadarPort
from hub.common.tasks import Failures, Tasks
from hub.runtime.config import HubConfig
from hub.runtime.hardware import Hardware, Inputs
from hub.runtime.service import HubService
from tests.conftest import eventually

SMOKE = SimSensor(mac="C0:FF:EE:00:00:01", kind="smoke", name="smoke-1")


async def test_a_loop_survives_a_round_that_fails(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[int] = []

    def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) in (2, 3):
            raise OSError(28, "No space left on device")

    tasks = Tasks()
    with caplog.at_level(logging.INFO, logger="hub.common.tasks"):
        tasks.every("escalation", 0.01, work)
        await eventually(lambda: len(rounds) >= 5, timeout=10, what="rounds after the failures")
        await tasks.close()
    assert tasks.dead == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info, "the first failure, with its traceback"
    assert "escalation failed" in errors[0].getMessage()
    assert any("escalation works again after 2 failed round(s)" in r.getMessage()
               for r in caplog.records)


async def test_until_works_at_each_deadline_and_wakes_early_when_it_moves() -> None:
    loop = asyncio.get_running_loop()
    deadline: list[float | None] = [None]  # no deadline: it sleeps its longest
    worked: list[float] = []
    moved = asyncio.Event()
    tasks = Tasks()
    def work() -> None:
        worked.append(loop.time())
        if deadline[0] is not None and loop.time() >= deadline[0]:
            deadline[0] = None  # done: no deadline until the next is set

    tasks.until("rule timers", lambda: None if deadline[0] is None else deadline[0] - loop.time(),
                work, longest=30.0, woken=moved)
    await asyncio.sleep(0.05)
    assert worked == []
    start = loop.time()
    deadline[0] = start + 0.2
    moved.set()  # an event moved the deadline: the 30 s sleep is cut short, the round goes
    await eventually(lambda: len(worked) == 2, timeout=5, what="the work at the new deadline")
    assert worked[0] - start < 0.15 <= worked[1] - start < 5
    await asyncio.sleep(0.1)
    assert len(worked) == 2, "no deadline: it sleeps its longest again"
    await tasks.close()


async def test_a_task_that_ends_by_itself_is_dead_and_a_cancelled_one_is_not(
        caplog: pytest.LogCaptureFixture) -> None:
    async def crash() -> None:
        await asyncio.sleep(0.01)
        raise RuntimeError("a bug outside any round")

    tasks = Tasks()
    tasks.watch("bluetooth scan", asyncio.create_task(crash()))
    tasks.every("heartbeat", 0.01, lambda: None)
    await eventually(lambda: tasks.dead, what="the dead task named")
    assert tasks.dead == ["bluetooth scan"]
    assert any(r.levelno == logging.CRITICAL and "bluetooth scan" in r.getMessage()
               for r in caplog.records)
    await tasks.close()  # cancelled: stopped, not dead
    assert tasks.dead == ["bluetooth scan"]


def test_a_round_failing_again_and_again_is_logged_once_a_minute(
        caplog: pytest.LogCaptureFixture) -> None:
    failures = Failures("storage check", logging.getLogger("test"), every_s=60)
    with caplog.at_level(logging.INFO, logger="test"):
        for _ in range(1000):
            with failures.round():
                raise OSError(28, "No space left on device")
        with failures.round():
            pass
        with failures.round():  # a new run of failures within the minute: counted only
            raise OSError(28, "No space left on device")
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]
    assert "1000 failed round(s)" in caplog.records[1].getMessage()


async def test_a_failing_input_handler_never_ends_the_bluetooth_scan(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The hub's handling of the scan's status fails (its store cannot write, say): the hub
    still starts, the scan goes on, the adverts still come (hub/runtime/hardware.py guards the
    callbacks it gives the drivers)."""
    cfg = HubConfig.model_validate({
        "hub_id": "h001", "data_dir": str(tmp_path), "gpio": {"backend": "sim"},
        "buttons": [{"name": "bedside", "pin": 17}], "ble": {"backend": "sim", "sensors": [
            {"name": "smoke-1", "mac": SMOKE.mac, "type": "smoke"}]}})
    heard: list[Advert] = []

    def fails(*_: object) -> None:
        raise OSError(28, "No space left on device")

    hw = Hardware.build(cfg)
    await hw.start(Inputs(press=fails, hold=fails, release=fails, mains=fails, radar=fails,
                          radar_status=fails, advert=heard.append, ble_status=fails, died=fails))
    try:
        assert hw.ble and hw.sim_ble and hw.ble.task and not hw.ble.task.done()
        assert hw.sim_ble.inject(*SMOKE.advert(True))
        assert len(heard) == 1 and not hw.ble.task.done()
        assert any("handling the Bluetooth status failed" in r.getMessage() for r in caplog.records)
    finally:
        await hw.close()


class Dying(BaseException):
    """What no round catches (no Exception): it ends a thread."""


async def test_a_driver_thread_that_dies_is_a_dead_task_of_the_hub(
        hub_cfg: Callable[..., HubConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    """The radar's reader and the speaker's player ran outside the hub's tasks: one that died
    left the hub without it and the watchdog fed. Now each is named among the hub's dead tasks,
    which stops the watchdog (hub.common.systemd.supervised), so systemd restarts the hub."""
    def reader_dies(*_: object) -> bool:
        raise Dying("the reader")

    monkeypatch.setattr(RadarPort, "_take", reader_dies)  # on the first bytes the radar sends
    cfg = hub_cfg(radar={"backend": "sim", "model": "mr60fda1"}, speaker={"backend": "sim"})
    async with HubService(cfg) as hub:
        await eventually(lambda: hub.dead_tasks, what="the radar's reader named as dead")
        assert hub.dead_tasks == [f"radar {cfg.data_dir / 'radar.tty'}"]

        def player_dies(_: object) -> float:
            raise Dying("the player")

        assert hub.hw.phone is not None
        hub.hw.phone.play = player_dies  # type: ignore[method-assign]
        hub.speaker.say("call_sent", "求助已发出")
        await eventually(lambda: "speaker" in hub.dead_tasks, what="the speaker's player as dead")
