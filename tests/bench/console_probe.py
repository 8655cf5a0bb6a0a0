"""Run the console headless in its own process (as in the field), logged in as ``bench``
with the password in a file, and print each alarm's render time: ``shown <alarm id>
<wall-clock seconds>``. Used by bench_press_latency."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from console.station.config import load_station_config
from console.tui.app import ConsoleApp


async def main(config: Path, password_file: Path) -> None:
    app = ConsoleApp(load_station_config(config), user="bench", password_file=password_file)
    app.on_alarm_shown = lambda id: print(f"shown {id} {time.time():.6f}", flush=True)
    async with app.run_test(size=(120, 40)):
        while app.session is None:
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until closed


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
