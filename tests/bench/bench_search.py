"""Elder search over a county's roster: index build time and time per query.

Builds the index over N synthetic elders (names, addresses, 1-3 phones, hub ids and file
numbers like a county's), then times a mix of the queries a duty officer types: a surname, a
full name, pinyin initials, a full-pinyin prefix, phone digits, a village, a hub id. Beside it,
in the same run, the floor of any search: one bare Python substring scan over the N names.
Target (issue 6): a roster filter answers in <= 100 ms. Figures only; no pass/fail.

    .venv/bin/python -m tests.bench.bench_search [--elders 10000] [--rounds 50]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from pypinyin import lazy_pinyin

from console.casework.elder import ElderRecord
from console.casework.search import ElderIndex
from tests.support.population import population


def queries(people: list[tuple[str, ElderRecord]], rnd: random.Random) -> dict[str, list[str]]:
    """Per kind of query, a few real ones drawn from the roster."""
    sample = rnd.sample(people, 10)
    names = [r.name for _, r in sample]
    return {
        "surname 王": ["王"],
        "full name": names,
        "initials": ["".join(s[0] for s in lazy_pinyin(n)) for n in names],
        "pinyin prefix": ["".join(lazy_pinyin(n))[:5] for n in names],
        "phone digits": [r.contacts[0].phone[-4:] for _, r in sample],
        "village": ["柳湾", "桃源村"],
        "hub id": [k for k, _ in sample],
    }


def timed(fn: Callable[[str], object], q: str, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--elders", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=50, help="times each query is run")
    args = ap.parse_args()
    people = population(args.elders)
    t0 = time.perf_counter()
    index = ElderIndex(people)
    build = time.perf_counter() - t0
    print(f"{args.elders} elders: index built in {build * 1e3:.0f} ms")
    names = [(k, r.name) for k, r in people]

    def floor(q: str) -> list[str]:
        return [k for k, n in names if q in n]

    all_ms: list[float] = []
    for kind, qs in queries(people, random.Random(6)).items():
        ms = [t * 1e3 for q in qs for t in timed(index.search, q, args.rounds)]
        hits = statistics.mean(len(index.search(q, limit=args.elders)) for q in qs)
        floor_ms = [t * 1e3 for q in qs for t in timed(floor, q, args.rounds)]
        all_ms += ms
        print(f"{kind:<14} p50 {statistics.median(ms):6.2f} ms  p99 {_p99(ms):6.2f} ms   "
              f"floor (bare scan of names) p50 {statistics.median(floor_ms):6.2f} ms   hits {hits:7.1f}")
    print(f"all queries    p50 {statistics.median(all_ms):6.2f} ms  p99 {_p99(all_ms):6.2f} ms   "
          f"target <= 100 ms: ratio p99 / target = {_p99(all_ms) / 100:.3f}")


def _p99(ms: list[float]) -> float:
    return sorted(ms)[max(0, round(0.99 * len(ms)) - 1)]


if __name__ == "__main__":
    main()
