"""``anxin pair``: list the BLE sensors in range that hub.yaml does not know yet.

Scans with the real adapter for a while (or, for a simulated home, asks the running hub
what its simulated air has carried) and prints each stranger with a ready-to-paste entry.
Writing the chosen ones into hub.yaml is the installer workflow's job (issue 8).
"""

from __future__ import annotations

import asyncio
from typing import Any

from drivers.ble.advert import Advert
from drivers.ble.decode import AdvertDecoder, Unknown
from drivers.ble.scanner import BleScanner, ScanStatus
from hub import simctl
from hub.config import HubConfig


async def scan(cfg: HubConfig, seconds: float) -> tuple[list[Unknown], dict[str, int | str], str | None]:
    """Strangers heard; for configured sensors heard, their RSSI, or why their packets were
    refused (a wrong bindkey shows here, not as "heard"); and the adapter's trouble if any."""
    decoder = AdvertDecoder(cfg.ble.keys)
    known = {s.mac for s in cfg.ble.sensors}
    heard: dict[str, int | str] = {}
    trouble: list[str] = []

    def advert(a: Advert) -> None:
        result = decoder.decode(a)
        if a.mac in known:
            heard[a.mac] = f"packets refused: {result.rejected.reason}" if result.rejected else a.rssi

    def status(st: ScanStatus) -> None:
        if st.state == "lost":
            trouble.append(st.reason)

    async with BleScanner(on_advert=advert, on_status=status, scanning_mode=cfg.ble.scan_mode,
                          adapter=cfg.ble.adapter):
        await asyncio.sleep(seconds)
    return list(decoder.unknown.values()), heard, trouble[-1] if trouble else None


def from_running_sim(cfg: HubConfig) -> list[Unknown]:
    rows: list[dict[str, Any]] = simctl.call(cfg.sim_socket_path, "strangers")
    return [Unknown(**r) for r in rows]


def report(cfg: HubConfig, strangers: list[Unknown], heard: dict[str, int | str] | None) -> str:
    lines = []
    if heard is not None:
        for s in cfg.ble.sensors:
            got = heard.get(s.mac)
            lines.append(f"  configured {s.name:<16} {s.mac}  " + (
                "NOT heard" if got is None else f"heard, RSSI {got} dBm" if isinstance(got, int)
                else f"heard, but {got} (check its bindkey)"))
    if not strangers:
        lines.append("no unpaired BTHome / MiBeacon sensors in range")
    for u in sorted(strangers, key=lambda u: -u.rssi):
        lines.append(f"  new {u.mac}  {u.protocol:<7} RSSI {u.rssi:>4} dBm  {u.name or '(no name)'}  "
                     + ("encrypted: needs its bindkey" if u.encrypted else "plaintext"))
        lines.append(f"    - {{name: CHANGE_ME, mac: \"{u.mac}\", type: smoke, room: \"\""
                     + (", bindkey: 32_HEX_DIGITS}" if u.encrypted else "}"))
    return "\n".join(lines)
