"""Faithful stand-ins for WeCom's and DingTalk's group robots and a county webhook, on loopback.

Each checks what its real service checks, as console/station/notify/wecom.py and dingtalk.py
quote it (path, key or access_token, DingTalk's timestamp within an hour and its signature,
keywords, the JSON shape, the length, 20 posts a minute and DingTalk's 10-minute block after),
answers HTTP 200 with the real errcode bodies, and records every request. An HTTP server in a
thread on 127.0.0.1 (a free port), so async tests, sync tests and the demo use them alike; the
clock is injected, so a storm can run on a fake one. Only what our channels send is modelled
(text messages); errcodes we could not confirm are marked where they are answered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from console.station.notify.channel import Channel, ChannelError, Message

MAX_BODY = 1024 * 1024


class FakeClock:
    """Epoch seconds that move only when waited on: ``clock()`` reads, ``await clock.wait(s)``
    advances (what ChannelWorker takes as its clock and wait)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def wait(self, delay: float | None) -> None:
        if delay is None:
            raise AssertionError("the worker waits for nothing: the queue is empty")
        self.now += max(delay, 0.0)


@dataclass(frozen=True)
class Received:
    """One request as the peer saw it, and its answer."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # the peer's clock
    status: int
    answer: dict[str, Any]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return self.status // 100 == 2 and self.answer.get("errcode", 0) == 0


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Peer:
    """An HTTP server on 127.0.0.1; a subclass answers each POST in ``answer``."""

    def __init__(self, *, clock: Callable[[], float] = time.time, delay_s: float = 0.0) -> None:
        self.clock, self.delay_s = clock, delay_s  # delay_s: wait this long (real time) before answering
        self.received: list[Received] = []
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                peer._handle(self)

            def do_GET(self) -> None:
                self.send_error(405)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a request still sleeping (delay_s) does not hold close
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=type(self).__name__, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.ok]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               now: float) -> Answer:
        raise NotImplementedError

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(min(length, MAX_BODY))
        if self.delay_s:
            time.sleep(self.delay_s)
        u = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:  # one at a time: the rate is judged in arrival order
            now = self.clock()
            a = self.answer(u.path, query, headers, body, now)
            self.received.append(Received(u.path, query, headers, body, now, a.status, a.body))
        data = json.dumps(a.body, ensure_ascii=False).encode()
        try:
            h.send_response(a.status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(data)))
            for k, v in a.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except OSError:
            pass  # the client gave up (its timeout): as a real server, nothing to do


async def refused(channel: Channel, msg: Message) -> ChannelError:
    """The ChannelError that sending ``msg`` must raise; the channel is closed after."""
    try:
        await channel.send(msg)
    except ChannelError as e:
        return e
    finally:
        await channel.aclose()
    raise AssertionError(f"{channel.name} sent {msg.key}, which it should have refused")


class _PerMinute:
    """Accepted posts in the last 60 s (sliding: the stricter reading of "20 a minute")."""

    def __init__(self, limit: int) -> None:
        self.limit, self._times = limit, deque[float]()

    def full(self, now: float) -> bool:
        while self._times and self._times[0] <= now - 60.0:
            self._times.popleft()
        return len(self._times) >= self.limit

    def add(self, now: float) -> None:
        self._times.append(now)


def max_in_window(times: list[float], window_s: float = 60.0) -> int:
    """The most ``times`` that fall in any half-open window of ``window_s``."""
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _mobile(v: object) -> bool:
    return isinstance(v, str) and (v == "@all" or (len(v) == 11 and v.isdigit() and v[0] == "1"))


def _wecom_said(errcode: int, what: str) -> dict[str, Any]:
    """WeCom's errmsg shape as users quote it (hint, ip, the code's help page)."""
    return {"errcode": errcode, "errmsg": f"{what}, hint: [1700000000_00_verifier], from ip: "
            f"127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e={errcode}"}


class WeComRobotServer(Peer):
    """/cgi-bin/webhook/send?key=KEY, text messages, content <= 2048 bytes, 20 a minute."""

    def __init__(self, key: str = "693a91f6-7f9c-4bc4-97a0-0ec2e1fa5aaa", *, per_minute: int = 20,
                 clock: Callable[[], float] = time.time, delay_s: float = 0.0) -> None:
        super().__init__(clock=clock, delay_s=delay_s)
        self.key, self.rate = key, _PerMinute(per_minute)

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               now: float) -> Answer:
        if path != "/cgi-bin/webhook/send":
            return Answer(404, {"errcode": 404, "errmsg": "not found"})  # UNVERIFIED: the real 404's body
        if query.get("key") != self.key:
            return Answer(200, _wecom_said(93000, "invalid webhook url"))
        try:
            msg = json.loads(body)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("msgtype") != "text" or not isinstance(msg.get("text"), dict):
            return Answer(200, _wecom_said(40008, "invalid message type"))  # the global code for it
        text = msg["text"]
        content = text.get("content")
        if not isinstance(content, str) or not content:
            return Answer(200, _wecom_said(40058, "text.content is empty. invalid Request Parameter"))
        if len(content.encode()) > 2048:
            return Answer(200, _wecom_said(40058, "text.content exceed max length 2048. invalid "
                                           "Request Parameter"))
        mentions = text.get("mentioned_mobile_list", [])
        if not isinstance(mentions, list) or not all(_mobile(m) for m in mentions):
            # UNVERIFIED: the real robot may ignore what it cannot mention
            return Answer(200, _wecom_said(40058, "invalid mentioned_mobile_list"))
        if self.rate.full(now):
            return Answer(200, _wecom_said(45009, "api freq out of limit"))
        self.rate.add(now)
        return Answer(200, {"errcode": 0, "errmsg": "ok"})


def ding_sign(secret: str, timestamp: str) -> str:
    """The signature as DingTalk computes it (written apart from the channel's, on purpose)."""
    digest = hmac.new(secret.encode("utf-8"), (timestamp + "\n" + secret).encode("utf-8"),
                      digestmod=hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkRobotServer(Peer):
    """/robot/send?access_token=…[&timestamp=…&sign=…], text messages, body <= 20000 bytes,
    20 a minute then 10 minutes blocked; security: ``secret`` (加签), ``keywords``, ``ip_allowed``."""

    def __init__(self, access_token: str = "a" * 64, *, secret: str | None = None,
                 keywords: tuple[str, ...] = (), ip_allowed: bool = True, per_minute: int = 20,
                 clock: Callable[[], float] = time.time, delay_s: float = 0.0) -> None:
        super().__init__(clock=clock, delay_s=delay_s)
        self.access_token, self.secret, self.keywords = access_token, secret, keywords
        self.ip_allowed, self.rate = ip_allowed, _PerMinute(per_minute)
        self.blocked_until = -1.0

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               now: float) -> Answer:
        def said(errcode: int, errmsg: str) -> Answer:
            return Answer(200, {"errcode": errcode, "errmsg": errmsg})

        if path != "/robot/send":
            return said(404, "请求的URI地址不存在")  # the global code table's 404
        if query.get("access_token") != self.access_token:
            return said(300001, "token is not exist")
        if not self.ip_allowed:  # UNVERIFIED errcode: only this errmsg is quoted by users
            return said(310000, "description:ip 不在白名单中;solution:请联系对应群的管理员，"
                                "设置机器人安全ip地址段")
        if self.secret is not None:
            ts = query.get("timestamp", "")
            if not ts.isdigit() or abs(int(ts) - now * 1000) > 3600_000:
                return said(310000, "invalid timestamp, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
            if not hmac.compare_digest(query.get("sign", ""), ding_sign(self.secret, ts)):
                return said(310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        if now < self.blocked_until:
            return said(130101, "send too fast, exceed 20 times per minute")
        if len(body) > 20000:
            return said(460101, "message too long, exceed 20000 bytes")
        try:
            msg = json.loads(body)
        except ValueError:
            return said(40035, "缺少参数 json")
        content = msg.get("text", {}).get("content") if isinstance(msg, dict) and isinstance(
            msg.get("text"), dict) else None
        if msg.get("msgtype") != "text" or not isinstance(content, str) or not content:
            return said(40035, "缺少参数 json")  # UNVERIFIED: the code for a bad text body
        at = msg.get("at", {})
        if not isinstance(at, dict) or not all(_mobile(m) for m in at.get("atMobiles", [])):
            return said(40035, "缺少参数 json")  # UNVERIFIED: likewise
        if self.keywords and not any(k in content for k in self.keywords):
            return said(310000, "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        if self.rate.full(now):
            self.blocked_until = now + 600.0  # "如果超过20条，会限流10分钟"
            return said(130101, "send too fast, exceed 20 times per minute")
        self.rate.add(now)
        return said(0, "ok")


def anxin_signature(secret: str, timestamp: str, body: bytes) -> str:
    """X-Anxin-Signature as a county platform checks it (docs/notify-channels.md)."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookServer(Peer):
    """A county platform: POST ``path``, optional signature, our JSON record; ``statuses`` are
    answered first, one a request (503, 429 …), then 200. A repeated id is taken once."""

    def __init__(self, *, path: str = "/anxin/notify", secret: str | None = None,
                 statuses: list[int] | None = None, retry_after: str | None = None,
                 clock: Callable[[], float] = time.time, delay_s: float = 0.0) -> None:
        super().__init__(clock=clock, delay_s=delay_s)
        self.path, self.secret = path, secret
        self.statuses, self.retry_after = list(statuses or []), retry_after
        self.ids: list[str] = []  # records taken, each once

    @property
    def url(self) -> str:
        return self.base_url + self.path

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
               now: float) -> Answer:
        if path != self.path:
            return Answer(404, {"error": "no such path"})
        if self.secret is not None:
            ts = headers.get("x-anxin-timestamp", "")
            good = anxin_signature(self.secret, ts, body)
            if (not ts.isdigit() or abs(int(ts) - now) > 300
                    or not hmac.compare_digest(headers.get("x-anxin-signature", ""), good)):
                return Answer(401, {"error": "bad signature"})
        if self.statuses:
            status = self.statuses.pop(0)
            return Answer(status, {"error": "busy"},
                          {"Retry-After": self.retry_after} if self.retry_after else {})
        try:
            msg = json.loads(body)
        except ValueError:
            msg = None
        if (not isinstance(msg, dict) or not isinstance(msg.get("id"), str)
                or not isinstance(msg.get("text"), str) or msg.get("priority") not in (1, 2, 3, 4)
                or headers.get("idempotency-key") != msg["id"]):
            return Answer(400, {"error": "not an Anxin notification"})
        if msg["id"] in self.ids:
            return Answer(200, {"ok": True, "duplicate": True})
        self.ids.append(msg["id"])
        return Answer(200, {"ok": True})
