"""The BLE scanner over the simulated adapter: adverts, a vanishing adapter, the watchdog, stopping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from drivers.ble.advert import BTHOME_UUID, Advert
from drivers.ble.scanner import PASSIVE_PATTERNS, BleScanner, ScanStatus
from drivers.ble.sim import SimScanner, SimSensor

NOW = 1234.5
SMOKE = SimSensor(mac="c0:ff:ee:00:00:01", kind="smoke", name="smoke-1", rssi=-70)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.adverts: list[Advert] = []
        self.statuses: list[ScanStatus] = []

    @property
    def states(self) -> list[str]:
        return [s.state for s in self.statuses]

    def scanner(self, sim: SimScanner, **options: Any) -> BleScanner:
        return BleScanner(on_advert=self.adverts.append, on_status=self.statuses.append,
                          make_scanner=sim.factory, clock=lambda: NOW, **options)


async def test_adverts_delivered() -> None:
    sim, got = SimScanner(), Recorder()
    async with got.scanner(sim):
        device, adv = SMOKE.advert(True)
        assert sim.inject(device, adv)
        assert got.adverts == [Advert(mac="C0:FF:EE:00:00:01", rssi=-70, name="smoke-1", manufacturer_data={},
                                      service_data={BTHOME_UUID: adv.service_data[BTHOME_UUID]}, time=NOW)]
        assert sim.scanning_mode == "active"
    assert got.statuses == [ScanStatus("scanning", "active scan on the default adapter", NOW),
                            ScanStatus("stopped", "stopped by the hub", NOW)]


async def test_passive_scan_asks_bluez_for_the_two_service_uuids() -> None:
    sim, got = SimScanner(), Recorder()
    async with got.scanner(sim, scanning_mode="passive", adapter="hci1"):
        assert sim.scanning_mode == "passive"
        assert sim.bluez == {"or_patterns": PASSIVE_PATTERNS, "adapter": "hci1"}
    assert got.statuses[0] == ScanStatus("scanning", "passive scan on hci1", NOW)


async def test_adapter_missing_at_start_is_retried_until_found() -> None:
    sim, got = SimScanner(), Recorder()
    sim.fail_adapter("No powered Bluetooth adapters found.")
    async with got.scanner(sim, retry_s=0.02):
        assert got.statuses == [ScanStatus("lost", "BleakError: No powered Bluetooth adapters found.", NOW)]
        await eventually(lambda: sim.starts >= 4)
        assert got.states == ["lost"]  # one outage, said once
        sim.restore_adapter()
        await eventually(lambda: got.states == ["lost", "found"])
        assert sim.inject(*SMOKE.advert(True))
        assert len(got.adverts) == 1


async def test_stalled_scan_restarted_by_the_watchdog() -> None:
    sim, got = SimScanner(), Recorder()

    async def sensor() -> None:
        while True:
            sim.inject(*SMOKE.advert(True))
            await asyncio.sleep(0.02)

    async with got.scanner(sim, restart_after_s=0.3):
        feeding = asyncio.create_task(sensor())
        await asyncio.sleep(0.5)
        assert got.states == ["scanning"]  # adverts keep the watchdog quiet
        sim.stall()
        stalled, count = time.monotonic(), len(got.adverts)
        await eventually(lambda: got.states == ["scanning", "restarted"])
        assert 0.25 < time.monotonic() - stalled < 0.6
        assert got.statuses[-1].reason == "nothing heard for 0.3 s"
        await eventually(lambda: len(got.adverts) > count)  # hearing again
        feeding.cancel()


async def test_silence_through_a_restart_resets_the_adapter() -> None:
    sim, got, resets = SimScanner(), Recorder(), []

    async def reset() -> None:
        resets.append(len(got.statuses))

    async with got.scanner(sim, restart_after_s=0.1, reset_adapter=reset):
        await eventually(lambda: len(got.statuses) >= 4)
    assert got.states[:4] == ["scanning", "restarted", "restarted", "restarted"]
    assert resets[:2] == [2, 3]  # not on the first restart: only when silence outlasts it


async def test_adapter_lost_while_scanning_then_found() -> None:
    sim, got = SimScanner(), Recorder()
    async with got.scanner(sim, restart_after_s=0.1, retry_s=0.02):
        sim.fail_adapter("Bluetooth adapter hci0 not found")
        await eventually(lambda: got.states == ["scanning", "lost"])
        assert not sim.inject(*SMOKE.advert(True))
        sim.restore_adapter()
        await eventually(lambda: got.states == ["scanning", "lost", "found"])
        assert sim.inject(*SMOKE.advert(True))


async def test_stop_is_clean() -> None:
    sim, got = SimScanner(), Recorder()
    scanner = got.scanner(sim, restart_after_s=0.05, retry_s=0.01)
    await scanner.start()
    await scanner.stop()
    await scanner.stop()
    assert not sim.running
    assert got.states == ["scanning", "stopped"]
    await asyncio.sleep(0.15)
    assert got.states == ["scanning", "stopped"]  # no watchdog or retry left behind
    assert not sim.inject(*SMOKE.advert(True))
    assert got.adverts == []
