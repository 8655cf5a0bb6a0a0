"""The county webhook against a platform on loopback: signed, busy, refused, slow, repeated."""

from __future__ import annotations

import pytest

from console.station.notify.channel import ChannelError, Message
from console.station.notify.webhook import CountyWebhook, signature
from tests.support.robots import WebhookServer, anxin_signature, refused

SECRET = "county-platform-shared-secret"
MSG = Message(key="n-a1-c1-r1", text="【安心】王秀英按了求助按钮", priority=1, alarm_id="a1",
              to=("13800000001",), created=1700000000.0)


def hook(server: WebhookServer, **over: object) -> CountyWebhook:
    kw: dict[str, object] = {"url": server.url, "secret": SECRET, "clock": server.clock, "timeout_s": 5.0}
    kw.update(over)
    return CountyWebhook(**kw)  # type: ignore[arg-type]


def test_the_signature_is_the_documented_hmac() -> None:
    body = b'{"id":"n1"}'  # printf '1700000000.{"id":"n1"}' | openssl dgst -sha256 -hmac k
    assert signature("k", 1700000000, body) == anxin_signature("k", "1700000000", body) == (
        "sha256=4240a447ed311659074f7c8b4a4ddfe0f6438cca65fd5de464097deae8ed0426")


async def test_a_signed_record_is_taken_once_even_when_sent_twice() -> None:
    with WebhookServer(secret=SECRET) as server:
        h = hook(server)
        try:
            first = await h.send(MSG)
            await h.send(MSG)  # a retry after a lost answer: same id
        finally:
            await h.aclose()
    assert first.channel == "webhook" and first.key == MSG.key
    assert server.ids == [MSG.key]
    assert [r.answer for r in server.received] == [{"ok": True}, {"ok": True, "duplicate": True}]
    body = server.received[0].json()
    assert body == {"id": MSG.key, "alarm_id": "a1", "priority": 1, "text": MSG.text,
                    "to": ["13800000001"], "created": 1700000000.0, "sent": body["sent"]}
    assert server.received[0].headers["idempotency-key"] == MSG.key


async def test_a_wrong_secret_is_not_retryable_and_names_the_secret() -> None:
    with WebhookServer(secret=SECRET) as server:
        e = await refused(hook(server, secret="another-secret-entirely"), MSG)
    assert e.code == "webhook.http_401" and not e.retryable and "secret" in e.fix
    assert "another-secret" not in str(e)


@pytest.mark.parametrize("status, retry_after, retryable, wait", [
    (503, "7", True, 7.0), (429, "120", True, 120.0), (500, None, True, None),
    (404, None, False, None), (400, None, False, None),
])
async def test_statuses_are_retryable_or_not_as_http_means_them(
        status: int, retry_after: str | None, retryable: bool, wait: float | None) -> None:
    with WebhookServer(statuses=[status], retry_after=retry_after) as server:
        h = hook(server, secret=None)
        try:
            with pytest.raises(ChannelError) as e:
                await h.send(MSG)
            if retryable:
                await h.send(MSG)  # the platform is back
        finally:
            await h.aclose()
    assert e.value.code == f"webhook.http_{status}" and e.value.retryable is retryable
    assert e.value.retry_after_s == wait
    assert server.ids == ([MSG.key] if retryable else [])


async def test_no_answer_in_time_is_retryable_and_the_query_token_is_not_shown() -> None:
    with WebhookServer(delay_s=1.0) as server:
        slow = hook(server, url=server.url + "?token=platform-token-123", secret=None, timeout_s=0.2)
        e = await refused(slow, MSG)
    assert e.code == "http.timeout" and e.retryable and "platform-token-123" not in str(e)
