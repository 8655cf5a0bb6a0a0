"""``anxin loadgen``: N simulated hubs against a station, and how long their alarms took.

The fleet (:mod:`hub.sim.fleet`) connects over ``ramp_s``, then raises alarms at a steady
rate (a Poisson process: ``per_100_per_min`` alarms per 100 homes per minute) for
``duration_s``, then, if asked, a storm (``storm`` alarms from as many homes within
``storm_s``). Each alarm's press time is kept; the station says when it stored it (``stored``:
alarm id -> the station's time, read from its database by the caller, hub/cli/loadgen.py) and
the hub when the ack came back. Printed: p50, p99 and the longest of press -> stored and
press -> acked, and how many alarms were acknowledged within 1, 5 and 30 s.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hub.common.transport import BrokerConfig
from hub.runtime.config import LinkConfig
from hub.sim.fleet import Fleet, Press, hub_ids

StoredTimes = Callable[[list[str]], dict[str, float]]  # alarm ids -> when the station stored each
ACKED_WITHIN_S = (1.0, 5.0, 30.0)


def percentile(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1] if len(xs) > 1 else xs[0]


@dataclass(frozen=True, slots=True)
class Latency:
    """Delays of one kind, in seconds."""

    name: str
    delays: list[float]

    def line(self) -> str:
        if not self.delays:
            return f"{self.name:<16} none"
        d = self.delays
        return (f"{self.name:<16} n {len(d):6d}   p50 {percentile(d, 50) * 1e3:8.1f} ms   "
                f"p99 {percentile(d, 99) * 1e3:8.1f} ms   max {max(d) * 1e3:8.1f} ms")


def stored_latency(presses: Iterable[Press], stored: dict[str, float]) -> Latency:
    return Latency("press -> stored", [stored[p.id] - p.pressed for p in presses if p.id in stored])


def acked_latency(presses: Iterable[Press]) -> Latency:
    return Latency("press -> acked", [p.acked - p.pressed for p in presses if p.acked is not None])


def acked_within(presses: list[Press], seconds: Iterable[float] = ACKED_WITHIN_S) -> str:
    return "acked within " + ", ".join(
        f"{s:g} s: {sum(p.acked is not None and p.acked - p.pressed <= s for p in presses)}"
        for s in seconds) + f" (of {len(presses)})"


def storm_span(presses: list[Press]) -> str:
    """How long from the first press until the last of them was acknowledged."""
    if not presses or any(p.acked is None for p in presses):
        return f"{sum(p.acked is None for p in presses)} not acknowledged"
    last = max(p.acked or 0.0 for p in presses)
    return (f"all acknowledged within {last - min(p.pressed for p in presses):.1f} s of the "
            f"first press ({last - max(p.pressed for p in presses):.2f} s after the last)")


def report(presses: list[Press], stored: StoredTimes | None) -> list[str]:
    """The figures for ``presses`` as lines to print."""
    times = stored([p.id for p in presses]) if stored else {}
    lines = [f"alarms raised {len(presses)}, stored {len(times) if stored else '?'}, "
             f"acked {sum(p.acked is not None for p in presses)}"]
    if stored:
        lines.append(stored_latency(presses, times).line())
    lines += [acked_latency(presses).line(), acked_within(presses)]
    return lines


@dataclass(frozen=True, slots=True)
class LoadPlan:
    hubs: int
    broker: BrokerConfig
    first: int = 1
    heartbeat_s: float = 30.0
    retry_s: float = 5.0
    ramp_s: float | None = None  # None: the heartbeat period
    per_100_per_min: float = 1.0
    duration_s: float = 60.0
    storm: int = 0
    storm_s: float = 10.0
    grace_s: float = 30.0  # after the last alarm: how long to wait for acks


async def run(plan: LoadPlan, stored: StoredTimes | None, say: Callable[[str], None] = print) -> int:
    """Run ``plan`` and print its figures; 1 if an alarm was not acknowledged, else 0."""
    link = LinkConfig(heartbeat_s=plan.heartbeat_s, retry_s=plan.retry_s)
    ramp = plan.heartbeat_s if plan.ramp_s is None else plan.ramp_s
    async with Fleet(hub_ids(plan.hubs, first=plan.first), broker=plan.broker, link=link) as fleet:
        started = time.monotonic()
        fleet.start(ramp)
        await asyncio.sleep(ramp)
        n = await fleet.until_reachable(max(30.0, ramp))
        say(f"{n} of {plan.hubs} hubs connected and see the station online after "
            f"{time.monotonic() - started:.1f} s")
        await fleet.alarms(plan.per_100_per_min / 100 / 60, plan.duration_s)
        steady = list(fleet.presses.values())
        say(f"steady load: {plan.per_100_per_min:g} alarm(s) per 100 homes per minute for "
            f"{plan.duration_s:g} s, heartbeats every {plan.heartbeat_s:g} s")
        await fleet.until_acked(steady, plan.grace_s)
        for line in report(steady, stored):
            say("  " + line)
        storm: list[Press] = []
        if plan.storm:
            storm = await fleet.storm(plan.storm, plan.storm_s)
            await fleet.until_acked(storm, plan.grace_s)
            say(f"storm: {plan.storm} alarms from {plan.storm} homes within {plan.storm_s:g} s; "
                f"{storm_span(storm)}")
            for line in report(storm, stored):
                say("  " + line)
        return int(any(p.acked is None for p in [*steady, *storm]))
