"""Event -> local action through the rule engine with 50 rules loaded.

Prints p50/p99 of (a) an event handed to the engine until its actions reach a consumer task
through an asyncio.Queue (how the hub service dispatches them), beside (b) a bare asyncio queue
hand-off measured in the same run, interleaved with (a); and the engine's rule evaluations per
second on its own. Target (targets.md): p99(a) <= 5 ms.

    .venv/bin/python -m tests.bench.bench_rules [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from hub.common.events import Event
from hub.rules import Engine, RuleSet, load_rules
from hub.rules.actions import RuleAction
from tests.conftest import REPO
from tests.support.rules import at

DEVICES = [f"dev{i}" for i in range(12)]


def generated_rules(n: int) -> str:
    """Rules like an installer would add: per-device buttons and doors, quiet rooms, reminders."""
    out = ["rules:"]
    for i in range(n):
        dev = DEVICES[i % len(DEVICES)]
        match i % 4:
            case 0:
                out += [f"  - name: g{i}_button", f"    trigger: {{event: button.double, device: {dev}}}",
                        "    conditions: {category: [key, secondary]}",
                        "    actions: [{say: call_sent}, {led: calling}, {alarm: walktest, text: test}]"]
            case 1:
                out += [f"  - name: g{i}_door_ajar", f"    trigger: {{event: door.open, device: {dev}}}",
                        "    conditions: {time: \"07:00-22:00\", state: {presence: true}}",
                        "    wait: {for: 5m, unless: {same_device: [door.close]}, then: [{say: call_sent}]}"]
            case 2:
                out += [f"  - name: g{i}_quiet", "    absence:", "      events: [motion.active, presence.on]",
                        f"      for: {{key: {2 + i % 3}h, secondary: 6h, general: 8h}}",
                        "      hours: \"08:00-20:00\"", "    actions: [{say: inactivity_notice}]"]
            case _:
                out += [f"  - name: g{i}_leak_room", f"    trigger: {{event: leak.on, room: room{i}}}",
                        "    actions: [{siren: chirp}, {relay: water_valve, energise: true}, {alarm: leak}]"]
    return "\n".join(out) + "\n"


def stream(n: int, seed: int = 1) -> list[Event]:
    """A busy home: mostly presence and motion, some doors, buttons, hazards and falls."""
    rnd = random.Random(seed)
    kinds = (["presence.on", "presence.off", "motion.active", "motion.still"] * 6
             + ["door.open", "door.close", "button.press", "button.double", "fall.detected", "cancel.press",
                "smoke.on", "smoke.off", "gas.on", "gas.off", "leak.on", "battery.low", "battery.ok",
                "battery.level", "device.silent", "device.back"])
    return [Event(kind=rnd.choice(kinds), source=rnd.choice(DEVICES),
                  data={"room": f"room{rnd.randrange(40)}", "type": "door"}) for _ in range(n)]


def evaluations(rules: RuleSet, kind: str) -> int:
    """Rules an event of this kind is checked against: triggers, waits it may end, latches, counts."""
    n = 0
    for r in rules.rules:
        named = set(r.once_until)
        if r.trigger:
            named |= set(r.trigger.event)
        if r.wait:
            named |= {*r.wait.unless.events, *r.wait.unless.same_device}
        if r.absence:
            named |= set(r.absence.events)
        if r.daily:
            named |= set(r.daily.events)
        n += kind in named
    return n


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


def line(name: str, xs: list[float]) -> str:
    return f"{name:<44} p50 {pct(xs, 50) * 1e3:7.3f} ms   p99 {pct(xs, 99) * 1e3:7.3f} ms"


async def dispatch(engine: Engine, events: list[Event], start: float) -> tuple[list[float], list[float]]:
    """(a) and (b), interleaved event by event so both see the same machine."""
    q: asyncio.Queue[tuple[float, list[RuleAction]]] = asyncio.Queue()
    got = asyncio.Event()
    lat: list[float] = []

    async def consumer() -> None:
        while True:
            t0, _ = await q.get()
            lat.append(time.perf_counter() - t0)
            got.set()

    task = asyncio.create_task(consumer())
    bare: list[float] = []
    full: list[float] = []
    nothing: list[RuleAction] = []
    now = start
    for ev in events:
        now += 0.5  # the fake clock: 20 000 events are under 3 simulated hours
        got.clear()
        q.put_nowait((time.perf_counter(), nothing))
        await got.wait()
        bare.append(lat[-1])
        got.clear()
        t0 = time.perf_counter()
        actions = engine.handle(ev, now)
        if actions:
            q.put_nowait((t0, actions))
            await got.wait()
            full.append(lat[-1])
    task.cancel()
    return bare, full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000)
    args = ap.parse_args()
    defaults = load_rules([REPO / "config/rules/default.yaml"])
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp) / "extra.yaml"
        extra.write_text(generated_rules(50 - len(defaults.rules)), encoding="utf-8")
        rules = load_rules([REPO / "config/rules/default.yaml", extra])
    start = at("09:00")
    events = stream(args.events)
    asyncio.run(dispatch(Engine(rules, now=start, category="key"), events[:1000], start))  # warm-up
    bare, full = asyncio.run(dispatch(Engine(rules, now=start, category="key"), events, start))

    engine = Engine(rules, now=start, category="key")
    t0 = time.perf_counter()
    for i, ev in enumerate(events):
        engine.handle(ev, start + i * 0.5)
    took = time.perf_counter() - t0
    evals = sum(evaluations(rules, ev.kind) for ev in events)

    print(f"rules loaded: {len(rules.rules)} ({len(defaults.rules)} default + "
          f"{len(rules.rules) - len(defaults.rules)} generated); events: {len(events)}, "
          f"{len(full)} with local actions")
    print(line("(b) bare asyncio queue hand-off", bare))
    print(line("(a) event -> engine -> queue -> consumer", full))
    print(f"ratio p99(a) / p99(b) = {pct(full, 99) / pct(bare, 99):.2f}; "
          f"p99(a) = {pct(full, 99) * 1e3:.3f} ms against the 5 ms target")
    print(f"engine alone: {len(events) / took:,.0f} events/s, {evals / took:,.0f} rule evaluations/s "
          f"({evals / len(events):.1f} of {len(rules.rules)} rules per event, by the kind index)")


if __name__ == "__main__":
    main()
