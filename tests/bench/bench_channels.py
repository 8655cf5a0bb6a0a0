"""The channels other than SMS in a storm, and one post's latency to a robot on loopback.

(1) On a fake clock, with the channels' own queue, rate and digests: a village power cut raises
500 alarms in 10 s (10 % P1, 5 % P2, 85 % P3 mains-fail reports), each with one first message
per channel. Prints, per channel: posts, when the last P1 message and when the last message of
all are out (from the storm's first alarm), the most posts in any 60 s (the robots allow 20),
and how often a lower priority went while a P1 waited (must be 0). The WeCom robot is also run
without digests, one alarm a post, to show what the digest buys.

(2) Real time: ``send()`` of one alarm message to each loopback verifier (aiohttp, JSON, the
verifier's checks), p50/p99, beside a bare aiohttp POST of the same body to the same server,
interleaved in the same run (the floor: HTTP on loopback with nothing of ours).

    .venv/bin/python -m tests.bench.bench_channels [--alarms 500] [--sends 300]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
from dataclasses import dataclass

import aiohttp

from console.station.notify.channel import Channel, Message
from console.station.notify.dingtalk import DingTalkRobot
from console.station.notify.http import dumps
from console.station.notify.queue import ChannelQueue
from console.station.notify.webhook import CountyWebhook
from console.station.notify.wecom import WeComRobot
from tests.support.robots import DingTalkRobotServer, Peer, WebhookServer, WeComRobotServer, max_in_window

KEY = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa"
TOKEN = "0c23aa5f11c9e0d0a9f6d1c3b8e54f2b7a9d6e1f3c5b7a9d1e3f5a7b9c1d3e5f"
SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
ADDRESS = ["青石村3组12号", "溪口村1组4号", "上坪村6组20号", "下岙村2组7号"]
WHAT = {1: "按了求助按钮", 2: "长时间无活动", 3: "家中停电，安心终端改用电池"}


def storm(n: int, seconds: float = 10.0, seed: int = 19) -> list[Message]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        p = rnd.choices([1, 2, 3], [10, 5, 85])[0]
        name = rnd.choice("王李张刘陈") + rnd.choice("秀英桂兰建国玉珍")
        text = f"【安心】{name}（{rnd.choice(ADDRESS)}）{WHAT[p]}。"
        out.append(Message(key=f"a{i}-first", text=text, priority=p, alarm_id=f"a{i}",
                           created=i * seconds / n))
    return out


@dataclass
class StormResult:
    posts: int
    last_p1_s: float
    last_s: float
    most_in_60s: int
    p1_overtaken: int


def run_storm(channel: Channel, messages: list[Message], digest: bool) -> StormResult:
    """Arrivals and releases in time order on a fake clock; a post takes no time."""
    q, sent, now, i, overtaken = ChannelQueue(channel.rate), [], 0.0, 0, 0
    posts: list[float] = []
    waiting_p1: set[str] = set()
    while i < len(messages) or len(q):
        at = q.next_at(now)
        arrival = messages[i].created if i < len(messages) else math.inf
        now = min(arrival, at if at is not None else math.inf)
        while i < len(messages) and messages[i].created <= now:
            q.push(messages[i], posts=channel.posts(messages[i]))
            if messages[i].priority == 1:
                waiting_p1.add(messages[i].key)
            i += 1
        while r := q.pop(now, channel.digest if digest else None):
            overtaken += bool(waiting_p1) and all(m.priority > 1 for m in r.members)
            waiting_p1.difference_update(m.key for m in r.members)
            posts += [now] * r.posts
            sent += [(now, m) for m in r.members]
    return StormResult(len(posts), max(t for t, m in sent if m.priority == 1), max(t for t, _ in sent),
                       max_in_window(posts), overtaken)


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1] if p < 100 else max(xs)


async def latency(channel: Channel, server: Peer, url: str, body: bytes, n: int,
                  headers: dict[str, str] | None = None) -> tuple[list[float], list[float]]:
    """send() of one message, and a bare POST of ``body`` to ``url``, interleaved; ms."""
    ours, bare = [], []
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            t = time.perf_counter()
            async with s.post(url, data=body, headers={"Content-Type": "application/json",
                                                       **(headers or {})}) as r:
                await r.read()
            bare.append((time.perf_counter() - t) * 1000)
            msg = Message(key=f"n{i}", text=storm(1)[0].text, priority=1)
            t = time.perf_counter()
            await channel.send(msg)
            ours.append((time.perf_counter() - t) * 1000)
    await channel.aclose()
    assert all(r.ok for r in server.received), "the verifier refused a post"
    return ours, bare


async def measure(n: int) -> list[tuple[str, list[float], list[float]]]:
    out = []
    with WeComRobotServer(KEY, per_minute=10**9) as w:
        text = {"msgtype": "text", "text": {"content": storm(1)[0].text}}
        out.append(("wecom", *await latency(WeComRobot(key=KEY, base_url=w.base_url), w,
                                            f"{w.base_url}/cgi-bin/webhook/send?key={KEY}", dumps(text), n)))
    with DingTalkRobotServer(TOKEN, secret=SECRET, per_minute=10**9) as d:
        ding = DingTalkRobot(access_token=TOKEN, secret=SECRET, base_url=d.base_url)
        url = ding._url()  # a signed URL stays good for an hour: the bare post reuses it
        out.append(("dingtalk", *await latency(ding, d, url, dumps(text), n)))
    with WebhookServer() as h:
        record = {"id": "x", "priority": 1, "text": storm(1)[0].text}
        out.append(("webhook", *await latency(CountyWebhook(url=h.url), h, h.url, dumps(record), n,
                                              {"Idempotency-Key": "x"})))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alarms", type=int, default=500)
    ap.add_argument("--sends", type=int, default=300)
    a = ap.parse_args()
    messages = storm(a.alarms)
    p1 = sum(m.priority == 1 for m in messages)
    print(f"(1) storm: {a.alarms} alarms in 10 s ({p1} P1), one first message each per channel, fake clock")
    print(f"{'channel':24} {'rate':>18} {'posts':>6} {'last P1 out':>12} {'all out':>10} "
          f"{'max/60s':>8} {'P1 overtaken':>12}")
    runs: list[tuple[str, Channel, bool]] = [
        ("wecom, one alarm a post", WeComRobot(key=KEY), False),
        ("wecom, digests", WeComRobot(key=KEY), True),
        ("dingtalk, digests", DingTalkRobot(access_token=TOKEN, secret=SECRET, keyword="安心"), True),
        ("webhook (60/min)", CountyWebhook(url="https://platform.example.gov.cn/n"), True),
    ]
    for name, channel, digest in runs:
        r = run_storm(channel, messages, digest)
        rate = f"{channel.rate.count}/{channel.rate.window_s:g}s" + (
            f" burst {channel.rate.burst}" if channel.rate.burst else "")
        print(f"{name:24} {rate:>18} {r.posts:>6} {r.last_p1_s:>10.1f} s {r.last_s:>8.1f} s "
              f"{r.most_in_60s:>8} {r.p1_overtaken:>12}")
    print(f"\n(2) send() latency to the loopback verifiers, {a.sends} sends each, ms")
    for name, ours, bare in asyncio.run(measure(a.sends)):
        print(f"{name:9} send() p50 {pct(ours, 50):6.2f}  p99 {pct(ours, 99):6.2f}   "
              f"bare aiohttp POST p50 {pct(bare, 50):6.2f}  p99 {pct(bare, 99):6.2f}   "
              f"ratio p50 {pct(ours, 50) / pct(bare, 50):4.2f}  p99 {pct(ours, 99) / pct(bare, 99):4.2f}")


if __name__ == "__main__":
    main()
