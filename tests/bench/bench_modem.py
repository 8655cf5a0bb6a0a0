"""The modem's share of "alarm stored → first SMS written to the modem" (target p99 ≤ 1 s).

A Modem on a SimModem's pseudo-terminal, paced at 115200 baud both ways (10 bits a byte): the
time from ``send()`` called to the modem holding the first part's whole PDU (its Ctrl-Z read by
the sim), for a one-part Chinese alarm and for a three-part one, each beside the floor measured
from the same bytes: the line time of ``AT+CMGS=n<CR>``, the ``<CR><LF>> `` prompt and the PDU.
Then the time until a three-part message is accepted whole (the sim answers each part at once:
a real network adds its own seconds per part). Figures only; no pass/fail.

    .venv/bin/python -m tests.bench.bench_modem [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from drivers.modem import Modem
from drivers.modem.pdu import encode_submit
from drivers.modem.sim import LINE_RATE, SimModem
from tests.bench.bench_press_latency import pct

ALARM = "【安心】王秀英（东湖村3组12号）按了呼叫按钮，服务站正在处理。能去的请回复1。"
LONG = ALARM * 4  # 168 characters: three UCS-2 parts


def floor_s(text: str) -> float:
    """Line time of what must cross the line before the modem holds the first PDU."""
    first = encode_submit("13800138000", text)[0]
    return (len(f"AT+CMGS={first.tpdu_length}\r") + len("\r\n> ") + len(first.hex) + 1) / LINE_RATE


async def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as d, SimModem(link=Path(d) / "modem", pace=True) as sim:
        async with Modem(port=str(Path(d) / "modem")) as modem:
            for name, text in (("1 part ", ALARM), ("3 parts", LONG)):
                first, whole = [], []
                for _ in range(n):
                    before = len(sim.sent)
                    t0 = time.monotonic()
                    refs = await modem.send("13800138000", text)
                    whole.append(time.monotonic() - t0)
                    first.append(sim.sent[before].arrived - t0)
                    assert len(refs) == len(sim.sent) - before
                fl = floor_s(text)
                print(f"{name}: send → first PDU at the modem  p50 {pct(first, 50) * 1e3:6.1f} ms  "
                      f"p99 {pct(first, 99) * 1e3:6.1f} ms  max {max(first) * 1e3:6.1f} ms   "
                      f"line floor {fl * 1e3:5.1f} ms (p50 {statistics.median(first) / fl:.2f}× the floor)")
                print(f"{name}: send → every part accepted     p50 {pct(whole, 50) * 1e3:6.1f} ms  "
                      f"p99 {pct(whole, 99) * 1e3:6.1f} ms")
    print(f"target: alarm stored → first SMS written p99 ≤ 1000 ms; {n} sends each, 115200 baud paced")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="sends per message size")
    asyncio.run(run(ap.parse_args().n))


if __name__ == "__main__":
    main()
