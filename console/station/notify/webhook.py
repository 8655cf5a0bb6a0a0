"""A county platform told by webhook: one JSON POST a notification, optionally signed.

Our own contract (docs/notify-channels.md, "Webhook"): the body is ``{"id", "alarm_id",
"priority", "text", "to", "created", "sent"}``; ``Idempotency-Key`` carries the id, so a
platform that drops repeats sees a retried message once; with a secret, ``X-Anxin-Timestamp``
(epoch seconds) and ``X-Anxin-Signature: sha256=HEX``, the HMAC-SHA256 of ``timestamp + "." +
body`` under the secret (a replayed old post is known by its timestamp). Any 2xx is taken;
408, 425, 429 and 5xx are tried again (after Retry-After, when given in seconds); other
statuses are a setup problem and are not.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from console.station.notify.channel import ChannelError, Message, Rate, Sent
from console.station.notify.http import Poster, dumps, where

TEXT_MAX_BYTES = 16 * 1024  # a notification is a few hundred bytes; more is a bug upstream
RETRY_AFTER_MAX_S = 3600.0
RETRYABLE = {408, 425, 429}
BURST = 10


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``X-Anxin-Signature`` of ``body`` posted at ``timestamp``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (an HTTP date is not worth parsing here: the backoff applies)."""
    try:
        s = float(value) if value else math.nan
    except ValueError:
        return None
    return min(s, RETRY_AFTER_MAX_S) if math.isfinite(s) and s >= 0 else None


def status_error(status: int, at: str, retry_after: str | None) -> ChannelError:
    code, said = f"webhook.http_{status}", f"webhook: {at} answered HTTP {status}"
    if status in RETRYABLE or status >= 500:
        return ChannelError(code, said, retryable=True, retry_after_s=_retry_after(retry_after),
                            fix="the county platform is busy or down; sent again later")
    if status in (401, 403):
        fix = "the platform refused the signature: notify.channels.webhook.secret must be the one it has"
    elif status in (404, 405, 410):
        fix = "check notify.channels.webhook.url with the county platform"
    elif status == 413:
        fix = "the platform takes smaller posts: shorten the notification text"
    else:
        fix = "the platform refused the post: ask its operators what it expects"
    return ChannelError(code, said, retryable=False, fix=fix)


class CountyWebhook:
    """POSTs each message to ``url``; at most ``per_minute`` a minute (what the platform allows)."""

    name = "webhook"

    def __init__(self, *, url: str, secret: str | None = None, per_minute: int = 60,
                 timeout_s: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        # the extra second: a post that arrives late; the pace: a storm's P1s are not queued
        # behind a minute spent on its first alarms
        self.rate = Rate(per_minute, 61.0, burst=min(per_minute, BURST))
        self._url, self._secret, self._clock = url, secret, clock
        hidden = [secret, urlsplit(url).query]  # a platform may put its token in the query
        self._http = Poster(self.name, timeout_s=timeout_s, secrets=[s for s in hidden if s])

    def posts(self, msg: Message) -> int:
        if len(msg.text.encode()) > TEXT_MAX_BYTES:
            raise ChannelError("webhook.too_long", f"the text has more than {TEXT_MAX_BYTES} bytes",
                               retryable=False, fix="shorten the notification text")
        return 1

    def digest(self, msgs: Sequence[Message]) -> Message | None:
        return None  # the platform keeps a record per notification

    async def send(self, msg: Message) -> Sent:
        self.posts(msg)
        now = self._clock()
        body = dumps({"id": msg.key, "alarm_id": msg.alarm_id, "priority": msg.priority,
                      "text": msg.text, "to": list(msg.to), "created": msg.created, "sent": now})
        headers = {"Idempotency-Key": msg.key}
        if self._secret:
            ts = int(now)
            headers |= {"X-Anxin-Timestamp": str(ts),
                        "X-Anxin-Signature": signature(self._secret, ts, body)}
        reply = await self._http.post(self._url, body, headers)
        if not 200 <= reply.status < 300:
            raise status_error(reply.status, where(self._url), reply.retry_after)
        return Sent(self.name, msg.key, self._clock())

    async def aclose(self) -> None:
        await self._http.aclose()
