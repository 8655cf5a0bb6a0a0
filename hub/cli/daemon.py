"""``anxin hub``: one home's hub as a service, with its simulated home attached when hub.yaml
asks for simulated devices; SIGHUP reloads the rules; the pid file tells the tools it runs."""

from __future__ import annotations

import asyncio
import os
import signal

from hub.common.systemd import supervised
from hub.runtime.config import HubConfig
from hub.runtime.running import PID_FILE
from hub.runtime.service import HubService
from hub.sim.home import attached


async def run_hub(cfg: HubConfig, stop: asyncio.Event) -> None:
    async with HubService(cfg) as hub, attached(hub):
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, hub.reload_rules)
        pid = cfg.data_dir / PID_FILE
        pid.write_text(f"{os.getpid()}\n")
        try:
            async with supervised(f"hub {cfg.hub_id}", lambda: hub.dead_tasks):
                await stop.wait()
        finally:
            pid.unlink(missing_ok=True)
