"""Push notifications to people's devices, behind a provider chosen by settings.push_provider."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.outbox import service as outbox_service

log = structlog.get_logger(__name__)

# The outbox kind that carries a `PushNotification` (its payload) to the provider.
PUSH_NOTIFICATION = "push.notification"


@dataclass(frozen=True)
class PushNotification:
    """One notification: who receives it, which template, the template's data, where it opens."""

    # The person's account id: providers look the address (openid, phone) up when sending,
    # so the outbox never holds one.
    recipient: str
    # The kind of notification; settings map it to a provider's template.
    template: str
    data: dict[str, Any] = field(default_factory=dict)
    page: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> PushNotification:
        """Read a `push.notification` outbox payload; ValueError if it is malformed."""
        recipient, template = payload.get("recipient"), payload.get("template")
        data, page = payload.get("data", {}), payload.get("page")
        if not isinstance(recipient, str) or not recipient:
            raise ValueError("push payload needs a non-empty 'recipient'")
        if not isinstance(template, str) or not template:
            raise ValueError("push payload needs a non-empty 'template'")
        if not isinstance(data, dict):
            raise ValueError("push payload 'data' must be an object")
        if page is not None and not isinstance(page, str):
            raise ValueError("push payload 'page' must be a string")
        return cls(recipient=recipient, template=template, data=data, page=page)

    def payload(self) -> dict[str, Any]:
        """The `push.notification` outbox payload (`from_payload` reads it back)."""
        return {
            "recipient": self.recipient,
            "template": self.template,
            "data": self.data,
            "page": self.page,
        }


async def queue_push(
    session: AsyncSession, notification: PushNotification, idempotency_key: str
) -> None:
    """Send `notification` after the caller's transaction commits (once per key)."""
    await outbox_service.enqueue(
        session, PUSH_NOTIFICATION, notification.payload(), idempotency_key
    )


class PushProvider(Protocol):
    """Delivers notifications; raises PermanentDeliveryError or any other error on failure."""

    async def send(self, notification: PushNotification, idempotency_key: str) -> None:
        """Deliver one notification (the key lets the provider or we drop a redelivery)."""
        ...


class LogPushProvider:
    """The development provider: writes each notification as one structured log line."""

    def __init__(self, logger: Any = None) -> None:
        self._log = logger or log

    async def send(self, notification: PushNotification, idempotency_key: str) -> None:
        """Log the notification instead of sending it."""
        self._log.info(
            "push notification",
            provider="log",
            recipient=notification.recipient,
            template=notification.template,
            data=notification.data,
            page=notification.page,
            idempotency_key=idempotency_key,
        )


PushProviderFactory = Callable[
    [Settings, httpx.AsyncClient, async_sessionmaker[AsyncSession]], PushProvider
]

# settings.push_provider -> factory: the outbox's own; app/wiring.py adds the real ones
# (WeChat subscription messages, app/notify).
PUSH_PROVIDERS: dict[str, PushProviderFactory] = {
    "log": lambda _settings, _http, _sessionmaker: LogPushProvider(),
}


def create_push_provider(
    settings: Settings,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    providers: Mapping[str, PushProviderFactory],
) -> PushProvider:
    """The provider named by settings.push_provider; ValueError (at startup) if unknown."""
    known_providers = {**PUSH_PROVIDERS, **providers}
    try:
        factory = known_providers[settings.push_provider]
    except KeyError:
        known = ", ".join(sorted(known_providers))
        raise ValueError(
            f"unknown PUSH_PROVIDER {settings.push_provider!r} (known: {known})"
        ) from None
    return factory(settings, http, sessionmaker)
