"""Keep a bleak scan running while the Pi's Bluetooth comes and goes; hand over every advert.

Adapters vanish (USB reset, rfkill) and a bluetoothd restart silently kills a running scan, so
the scan lives in a loop: a failed start is reported ``lost`` and retried every ``retry_s``; a
watchdog restarts the scan when nothing at all has been heard for ``restart_after_s`` (90 s, as
Home Assistant) and, if it stays silent through a restart, also calls ``reset_adapter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern, OrPatternLike
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from drivers.ble.advert import Advert

log = logging.getLogger("anxin.ble")

ScanMode = Literal["active", "passive"]
ScanState = Literal["scanning", "lost", "found", "restarted", "stopped"]
DetectionCallback = Callable[[BLEDevice, AdvertisementData], None]

# What starting a scan throws when Bluetooth is missing, off or restarting: BleakError (also
# BlueZ's D-Bus errors and "No powered Bluetooth adapters"), OSError (no D-Bus socket: no bluez),
# TimeoutError (the adapter does not answer), EOFError (the bus went away mid-call).
ADAPTER_ERRORS = (BleakError, OSError, TimeoutError, EOFError)

# A passive scan reports only adverts that match a pattern (BlueZ >= 5.56, bluetoothd
# --experimental): service data (AD type 0x16) starting with the BTHome or MiBeacon UUID, LE.
PASSIVE_PATTERNS: list[OrPatternLike] = [OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, uuid)
                    for uuid in (b"\xd2\xfc", b"\x95\xfe")]


@dataclass(frozen=True, slots=True)
class ScanStatus:
    # scanning: first start worked; lost: the adapter failed (retrying); found: working again
    # after lost; restarted: by the watchdog; stopped: by stop()
    state: ScanState
    reason: str
    ts: float  # wall clock


class ScannerLike(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MakeScanner(Protocol):
    def __call__(self, detection_callback: DetectionCallback, *, scanning_mode: ScanMode,
                 bluez: BlueZScannerArgs) -> ScannerLike: ...


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if isinstance(error, FileNotFoundError):  # bleak found no D-Bus system socket
        text += " (no D-Bus system bus: are dbus and bluetoothd running?)"
    return text


class BleScanner:
    """Scan for BLE adverts in the background until stopped; report every advert and every change."""

    def __init__(
        self, *, on_advert: Callable[[Advert], None], on_status: Callable[[ScanStatus], None],
        make_scanner: MakeScanner = BleakScanner, scanning_mode: ScanMode = "active",
        adapter: str | None = None,
        restart_after_s: float = 90.0, retry_s: float = 10.0, start_timeout_s: float = 15.0,
        reset_adapter: Callable[[], Awaitable[object]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._on_advert, self._on_status, self._make_scanner = on_advert, on_status, make_scanner
        self._mode = scanning_mode
        self._bluez = BlueZScannerArgs()
        if scanning_mode == "passive":
            self._bluez["or_patterns"] = PASSIVE_PATTERNS
        if adapter:
            self._bluez["adapter"] = adapter
        self._restart_after_s, self._retry_s = restart_after_s, retry_s
        self._start_timeout_s = start_timeout_s
        self._reset_adapter, self._clock = reset_adapter, clock
        self.status: ScanStatus | None = None  # the last one reported
        self._scanner: ScannerLike | None = None  # the running scan
        self._task: asyncio.Task[None] | None = None
        self._heard = 0.0  # monotonic time of the last advert, or of the last start
        self._quiet_restarts = 0  # watchdog restarts since the last advert

    async def start(self) -> None:
        """Try to start the scan, report how it went, and keep it going in the background."""
        if self._task is None:
            running = await self._start_scan("scanning")
            self._task = asyncio.create_task(self._keep(running), name="ble-scanner")

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The background task that keeps the scan going (None until started), for the hub to
        watch: it should never end by itself."""
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self._stop_scan()
            self._report("stopped", "stopped by the hub")

    async def __aenter__(self) -> BleScanner:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _keep(self, running: bool) -> None:
        while True:
            if running:
                while (quiet := time.monotonic() - self._heard) < self._restart_after_s:
                    await asyncio.sleep(self._restart_after_s - quiet)
                await self._stop_scan()
                self._quiet_restarts += 1
                if self._quiet_restarts > 1 and self._reset_adapter is not None:
                    try:
                        await self._reset_adapter()
                    except Exception:  # the restart below is still worth a try
                        log.exception("resetting the Bluetooth adapter failed")
                running = await self._start_scan("restarted")
            else:
                await asyncio.sleep(self._retry_s)
                running = await self._start_scan("found")

    async def _start_scan(self, state: ScanState) -> bool:
        scanner: ScannerLike | None = None
        try:
            scanner = self._make_scanner(self._detected, scanning_mode=self._mode, bluez=self._bluez)
            async with asyncio.timeout(self._start_timeout_s):
                await scanner.start()
        except Exception as e:  # whatever keeps the scan from starting, it is retried, never fatal
            if not isinstance(e, ADAPTER_ERRORS):
                log.exception("unexpected error starting the BLE scan; retrying in %g s", self._retry_s)
            if scanner is not None:
                await self._stop(scanner)
            self._report("lost", _describe(e))
            return False
        self._scanner, self._heard = scanner, time.monotonic()
        self._report(state, f"nothing heard for {self._restart_after_s:g} s" if state == "restarted"
                     else f"{self._mode} scan on {self._bluez.get('adapter', 'the default adapter')}")
        return True

    async def _stop_scan(self) -> None:
        if self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            await self._stop(scanner)

    async def _stop(self, scanner: ScannerLike) -> None:
        try:
            async with asyncio.timeout(self._start_timeout_s):
                await scanner.stop()
        except Exception as e:  # a scan on a vanished adapter may not stop cleanly; it is gone anyway
            log.debug("stopping the BLE scan: %s", _describe(e))

    def _detected(self, device: BLEDevice, adv: AdvertisementData) -> None:
        self._heard, self._quiet_restarts = time.monotonic(), 0
        self._on_advert(Advert.from_bleak(device, adv, self._clock()))

    def _report(self, state: ScanState, reason: str) -> None:
        last = self.status
        if state == "lost" and last is not None and (last.state, last.reason) == (state, reason):
            return  # the same outage goes on: said once
        self.status = ScanStatus(state, reason, self._clock())
        self._on_status(self.status)
