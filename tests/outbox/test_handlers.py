"""Delivering the built-in kinds: durable HTTP POST and push notifications."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.config import Settings
from app.notify.provider import NotificationProvider
from app.outbox.handlers import (
    HTTP_POST,
    PUSH_NOTIFICATION,
    build_handlers,
    http_post_handler,
    push_notification_handler,
)
from app.outbox.push import LogPushProvider, PushNotification, create_push_provider
from app.outbox.types import ClaimedMessage, PermanentDeliveryError, RetryableDeliveryError
from app.payment.refunds import PAYMENT_REFUND
from app.pharmacy.webhooks import PARTNER_WEBHOOK
from app.wiring import OUTBOX_KINDS, PUSH_PROVIDERS

URL = "https://partner.test/orders"


def message(kind: str, payload: dict[str, Any], key: str = "key-1") -> ClaimedMessage:
    return ClaimedMessage(id=1, kind=kind, payload=payload, idempotency_key=key, attempts=1)


def client_answering(
    status: int, headers: dict[str, str] | None = None
) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(status, headers=headers, text="partner says no" if status else "")

    return httpx.AsyncClient(transport=httpx.MockTransport(answer)), requests


async def test_http_post_sends_the_body_with_the_messages_idempotency_key() -> None:
    http, requests = client_answering(201)
    payload = {"url": URL, "json": {"order": 7, "name": "张三"}, "headers": {"X-Partner": "p1"}}
    await http_post_handler(http)(message(HTTP_POST, payload, key="order-7-created"))
    [request] = requests
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["Idempotency-Key"] == "order-7-created"
    assert request.headers["X-Partner"] == "p1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"order": 7, "name": "张三"}


async def test_http_post_idempotency_key_cannot_be_overridden_by_the_payload() -> None:
    http, requests = client_answering(200)
    payload = {"url": URL, "json": {}, "headers": {"Idempotency-Key": "other"}}
    await http_post_handler(http)(message(HTTP_POST, payload, key="the-key"))
    assert requests[0].headers.get_list("Idempotency-Key") == ["the-key"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 302])
async def test_http_post_client_error_is_permanent(status: int) -> None:
    http, _ = client_answering(status)
    with pytest.raises(PermanentDeliveryError, match=f"HTTP {status} from {URL}"):
        await http_post_handler(http)(message(HTTP_POST, {"url": URL, "json": {}}))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
async def test_http_post_server_error_timeout_and_throttling_are_retryable(status: int) -> None:
    http, _ = client_answering(status)
    with pytest.raises(RetryableDeliveryError, match=f"HTTP {status}"):
        await http_post_handler(http)(message(HTTP_POST, {"url": URL, "json": {}}))


async def test_http_post_reports_the_receivers_retry_after() -> None:
    http, _ = client_answering(429, headers={"Retry-After": "90"})
    with pytest.raises(RetryableDeliveryError) as failure:
        await http_post_handler(http)(message(HTTP_POST, {"url": URL, "json": {}}))
    assert failure.value.retry_after == 90


async def test_http_post_transport_error_propagates_as_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    with pytest.raises(httpx.ConnectError):
        await http_post_handler(http)(message(HTTP_POST, {"url": URL, "json": {}}))


@pytest.mark.parametrize(
    "payload",
    [{"json": {}}, {"url": "partner.test/x"}, {"url": URL, "headers": {"X-Count": 1}}],
)
async def test_http_post_malformed_payload_is_permanent(payload: dict[str, Any]) -> None:
    http, requests = client_answering(200)
    with pytest.raises(PermanentDeliveryError):
        await http_post_handler(http)(message(HTTP_POST, payload))
    assert requests == []


class RecordingLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


async def test_log_push_provider_writes_the_notification_as_a_structured_line() -> None:
    logger = RecordingLogger()
    payload = {"recipient": "openid-1", "template": "reading_alert", "data": {"bp": "165/100"}}
    await push_notification_handler(LogPushProvider(logger))(
        message(PUSH_NOTIFICATION, payload, key="alert-1")
    )
    [(event, fields)] = logger.lines
    assert event == "push notification"
    assert fields["recipient"] == "openid-1"
    assert fields["template"] == "reading_alert"
    assert fields["data"] == {"bp": "165/100"}
    assert fields["idempotency_key"] == "alert-1"


async def test_push_notification_without_recipient_is_permanent() -> None:
    logger = RecordingLogger()
    with pytest.raises(PermanentDeliveryError, match="recipient"):
        await push_notification_handler(LogPushProvider(logger))(
            message(PUSH_NOTIFICATION, {"template": "reading_alert"})
        )
    assert logger.lines == []


async def test_push_notification_payload_round_trips() -> None:
    payload = {"recipient": "o", "template": "t", "data": {"a": 1}, "page": "pages/x"}
    assert PushNotification.from_payload(payload) == PushNotification("o", "t", {"a": 1}, "pages/x")


def test_build_handlers_covers_push_http_post_and_the_wired_domain_kinds(
    settings: Settings,
) -> None:
    handlers = build_handlers(
        settings, httpx.AsyncClient(), OUTBOX_KINDS, async_sessionmaker(), PUSH_PROVIDERS
    )
    assert {PUSH_NOTIFICATION, HTTP_POST, PAYMENT_REFUND, PARTNER_WEBHOOK} <= handlers.keys()


def test_the_wechat_push_provider_is_wired(settings: Settings) -> None:
    wechat = settings.model_copy(update={"push_provider": "wechat"})
    provider = create_push_provider(
        wechat, httpx.AsyncClient(), async_sessionmaker(), PUSH_PROVIDERS
    )
    assert isinstance(provider, NotificationProvider)


def test_a_domain_kind_cannot_replace_the_outboxs_own(settings: Settings) -> None:
    with pytest.raises(ValueError, match="outbox's own"):
        build_handlers(
            settings,
            httpx.AsyncClient(),
            {HTTP_POST: OUTBOX_KINDS[PAYMENT_REFUND]},
            async_sessionmaker(),
            PUSH_PROVIDERS,
        )


def test_unknown_push_provider_is_refused_at_startup(settings: Settings) -> None:
    with pytest.raises(ValueError, match="PUSH_PROVIDER 'carrier-pigeon'"):
        build_handlers(
            settings.model_copy(update={"push_provider": "carrier-pigeon"}),
            None,  # type: ignore[arg-type]
            {},
            async_sessionmaker(),
            PUSH_PROVIDERS,
        )
