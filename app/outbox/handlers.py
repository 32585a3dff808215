"""How each outbox kind is delivered: the dispatch table the relay looks kinds up in."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.kit.clock import utcnow
from app.outbox.push import (
    PUSH_NOTIFICATION,
    PushNotification,
    PushProvider,
    PushProviderFactory,
    create_push_provider,
)
from app.outbox.types import (
    ClaimedMessage,
    Handler,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

HTTP_POST = "http.post"

# Per request, not the shared client's default: the relay's lease must outlast a delivery.

# 4xx answers that mean "not now" rather than "never". 409 is here because receivers that
# honour Idempotency-Key answer it while the first delivery of the same key is still being
# processed (draft-ietf-httpapi-idempotency-key-header, Stripe) - exactly the situation after a
# relay dies mid-flight and the message is redelivered.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 409, 425, 429})

_ERROR_BODY_CHARS = 300


def outbox_http_client(settings: Settings) -> httpx.AsyncClient:
    """The HTTP client deliveries use: its timeout bounds one attempt, well inside the lease."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.outbox_http_timeout_seconds, connect=5.0)
    )


HandlerFactory = Callable[[Settings, httpx.AsyncClient], Handler]


def build_handlers(
    settings: Settings,
    http: httpx.AsyncClient,
    domain_kinds: Mapping[str, HandlerFactory],
    sessionmaker: async_sessionmaker[AsyncSession],
    push_providers: Mapping[str, PushProviderFactory],
) -> dict[str, Handler]:
    """The handler of every outbox kind: the generic ones and the domains' (app/wiring.py);
    push notifications go through settings.push_provider, among `push_providers`."""
    shared = set(domain_kinds) & {PUSH_NOTIFICATION, HTTP_POST}
    if shared:
        raise ValueError(f"outbox kinds {sorted(shared)} are the outbox's own")
    return {
        PUSH_NOTIFICATION: push_notification_handler(
            create_push_provider(settings, http, sessionmaker, push_providers)
        ),
        HTTP_POST: http_post_handler(http),
        **{kind: factory(settings, http) for kind, factory in domain_kinds.items()},
    }


def push_notification_handler(provider: PushProvider) -> Handler:
    """Deliver `push.notification` payloads (recipient, template, data, page) via `provider`."""

    async def deliver(message: ClaimedMessage) -> None:
        try:
            notification = PushNotification.from_payload(message.payload)
        except ValueError as exc:
            raise PermanentDeliveryError(str(exc)) from exc
        await provider.send(notification, message.idempotency_key)

    return deliver


def http_post_handler(http: httpx.AsyncClient) -> Handler:
    """Deliver `http.post` payloads: {"url": ..., "json": <body>, "headers": {...} (optional)}."""

    async def deliver(message: ClaimedMessage) -> None:
        payload = message.payload
        url, headers = payload.get("url"), payload.get("headers", {})
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise PermanentDeliveryError("http.post payload needs an absolute http(s) 'url'")
        if not isinstance(headers, dict) or not all(
            isinstance(name, str) and isinstance(value, str) for name, value in headers.items()
        ):
            raise PermanentDeliveryError("http.post payload 'headers' must map strings to strings")
        body = encode_json(payload.get("json"))
        await post_idempotent(http, url, body, message.idempotency_key, headers)

    return deliver


def encode_json(body: Any) -> bytes:
    """The exact bytes sent for a JSON body (compact UTF-8), e.g. for a signer to sign."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


async def post_idempotent(
    http: httpx.AsyncClient,
    url: str,
    content: bytes,
    idempotency_key: str,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> None:
    """POST JSON bytes with `Idempotency-Key`; return on 2xx, raise a classified error if not.
    `extensions` are httpx's request extensions (e.g. the TLS name of a pinned address)."""
    # 5xx and RETRYABLE_CLIENT_ERRORS are retryable (honouring Retry-After), other 4xx are
    # permanent; transport errors and timeouts propagate and are retried. Handlers that sign
    # the body (partner webhooks) sign `content` and pass their signature header.
    request_headers = {
        **(headers or {}),
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
    }
    response = await http.post(
        url,
        content=content,
        headers=request_headers,
        extensions=dict(extensions or {}),
    )
    status = response.status_code
    if response.is_success:
        return
    error = f"HTTP {status} from {url}: {response.text[:_ERROR_BODY_CHARS]}"
    if status >= 500 or status in RETRYABLE_CLIENT_ERRORS:
        raise RetryableDeliveryError(error, retry_after=_retry_after_seconds(response))
    # Other 4xx, and redirects (a POST is never re-sent to a new location blindly).
    raise PermanentDeliveryError(error)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment: datetime = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": HTTP dates are GMT anyway
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - utcnow()).total_seconds())
