"""The HTTP POST the robot and webhook channels share: bounded in time and size, never leaking a key.

aiohttp, because the station is asyncio and aiohttp is already installed with the BLE stack
(xiaomi-ble): its ClientTimeout bounds the whole request (DNS, connect, TLS, reply), which
urllib's per-socket timeout does not, and no thread is needed. One session per channel keeps
the TLS connection to the robot's host for the next post. Every failure becomes a
:class:`ChannelError` whose text names the host only: the robots' keys travel in the query
string, and an exception's text (aiohttp's InvalidURL quotes the whole URL) is redacted too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from console.station.notify.channel import ChannelError

MAX_REPLY_BYTES = 64 * 1024  # a robot answers {"errcode":0,"errmsg":"ok"}; more is not a reply
TIMEOUT_MAX_S = 60.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    retry_after: str | None  # the Retry-After header, when the peer sent one

    def json(self) -> Any:
        return json.loads(self.body)


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (a robot key, a token, a signature) replaced by ***."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def where(url: str) -> str:
    """scheme://host[:port]/path of ``url``: what a message may say about it (no query)."""
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}{u.path}"


class Poster:
    """POSTs JSON for one channel; ``secrets`` are scrubbed from anything it says."""

    def __init__(self, channel: str, *, timeout_s: float, secrets: Sequence[str] = ()) -> None:
        if not 0 < timeout_s <= TIMEOUT_MAX_S:
            raise ValueError(f"timeout_s must be in (0, {TIMEOUT_MAX_S}], not {timeout_s}")
        self.channel, self.timeout_s, self._secrets = channel, timeout_s, tuple(secrets)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        """POST ``body`` as JSON; a reply of any status, or ChannelError for no reply in time."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s), raise_for_status=False)
        at = where(url)
        try:
            async with self._session.post(
                    url, data=body, allow_redirects=False,
                    headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}) as r:
                data = await r.content.read(MAX_REPLY_BYTES + 1)
                return Reply(r.status, data[:MAX_REPLY_BYTES], r.headers.get("Retry-After"))
        except TimeoutError:
            raise ChannelError("http.timeout", f"{self.channel}: no answer from {at} within "
                               f"{self.timeout_s:g} s", retryable=True,
                               fix="check the station's internet connection") from None
        except (aiohttp.InvalidURL, ValueError):
            raise ChannelError("http.url", f"{self.channel}: {at} is not a URL that can be "
                               "posted to", retryable=False, fix="check the channel's address "
                               "in the notify config") from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as e:
            said = redact(f"{type(e).__name__}: {e}", self._secrets)
            raise ChannelError("http.connect", f"{self.channel}: cannot reach {at} ({said})",
                               retryable=True, fix="check the station's internet connection "
                               "and DNS") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def reply_json(channel: str, reply: Reply) -> dict[str, Any]:
    """The robot's JSON answer; ChannelError for a non-200 status or a body that is not one."""
    if reply.status != 200:
        raise ChannelError(f"{channel}.http_{reply.status}", f"{channel}: the robot answered HTTP "
                           f"{reply.status}", retryable=reply.status >= 500 or reply.status == 429,
                           fix="check the channel's base_url in the notify config")
    try:
        data = reply.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("errcode"), int):
        raise ChannelError(f"{channel}.bad_reply", f"{channel}: the robot's answer is not its "
                           f"JSON ({reply.body[:80]!r})", retryable=True,
                           fix="check the channel's base_url; a proxy may be answering")
    return data


def dumps(body: object) -> bytes:
    """JSON as UTF-8 with Chinese as itself: the robots limit bytes, and \\uXXXX would double them."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
