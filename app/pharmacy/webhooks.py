"""Outbound webhooks to partner pharmacy systems: written to the outbox with the order's change,
signed with HMAC-SHA256 over `timestamp.body` at each delivery attempt (so a retry hours later
still falls inside the partner's freshness window), sent with an Idempotency-Key.

Headers: X-Signature-Timestamp (unix seconds), X-Signature ("v1=" + hex HMAC), Idempotency-Key.
The same scheme signs the partner's callbacks to us (`app/pharmacy/callbacks.py`).

In prod (and wherever WEBHOOK_PRIVATE_TARGETS_ALLOWED is false) a partner's URL must reach the
public internet only: checked when an admin sets it (`check_target`, 422) and again at every
send, where the request goes to the very address that was checked (`app/kit/public_address`),
so a DNS answer changed in between (rebinding) cannot turn a webhook against our own network.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import AppError
from app.kit import public_address
from app.kit.clock import utcnow
from app.kit.crypto import FieldCipher, field_cipher
from app.kit.repository import by_id
from app.models import Drug, PharmacyOrder, PharmacyOrderLine, PharmacyStore
from app.outbox import service as outbox_service
from app.outbox.handlers import encode_json, post_idempotent
from app.outbox.types import (
    ClaimedMessage,
    Handler,
    PermanentDeliveryError,
    RetryableDeliveryError,
)
from app.pharmacy import repository as pharmacy_repository

PARTNER_WEBHOOK = "partner.webhook"
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_VERSION = "v1"


class WebhookTargetRefused(AppError):
    status = 422
    code = "webhook_target_not_public"


async def check_target(settings: Settings, url: str) -> None:
    """Refuse (422) a webhook URL that does not resolve to public addresses only, where
    settings require it (always in prod)."""
    if not settings.webhook_targets_must_be_public:
        return
    try:
        await public_address.check_url(url)
    except public_address.UnresolvableTarget as exc:
        raise WebhookTargetRefused("webhook_target_unresolvable") from exc
    except public_address.NotPublicTarget as exc:
        raise WebhookTargetRefused() from exc


def compute_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `timestamp` + "." + body under the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signature_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """The signature headers for `body` sent at `now`."""
    timestamp = str(int(now.timestamp()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: compute_signature(secret, timestamp, body),
    }


def signature_matches(secret: str, timestamp: str, body: bytes, presented: str) -> bool:
    """Constant-time comparison of a presented signature with the expected one."""
    return hmac.compare_digest(compute_signature(secret, timestamp, body), presented)


async def notify_partner(
    session: AsyncSession,
    order: PharmacyOrder,
    event: str,
    lines: list[tuple[PharmacyOrderLine, Drug]],
) -> None:
    """Queue `event` about `order` for its store's partner system, if the store has one."""
    integration = await pharmacy_repository.integration(session, order.store_id)
    if integration is None:
        return
    store = await by_id(session, PharmacyStore, order.store_id)
    assert store is not None
    event_id = f"partner:{order.id}:{event}"
    body: dict[str, Any] = {
        "event": event,
        "event_id": event_id,
        "occurred_at": utcnow().isoformat(),
        "order": {
            "id": str(order.id),
            "prescription_id": str(order.prescription_id),
            "store_code": store.code,
            "status": order.status,
            "fulfilment": order.fulfilment,
            "cold_chain": order.cold_chain,
            "total_fen": order.total_fen,
            "district_code": order.district_code,
            # The store delivers it: it needs where and whom to call.
            "address": order.delivery_address,
            "phone": order.delivery_phone,
            "lines": [
                {
                    "national_code": drug.national_code,
                    "name_zh": drug.generic_name_zh,
                    "packs": line.packs,
                    "amount_fen": line.amount_fen,
                }
                for line, drug in lines
            ],
        },
    }
    payload = {
        "url": integration.webhook_url,
        "json": body,
        # The outbox row holds the key encrypted with the field keys, like the integration row.
        "secret": field_cipher(session.get_bind().dialect).encrypt(integration.secret),
    }
    await outbox_service.enqueue(session, PARTNER_WEBHOOK, payload, event_id)


def partner_webhook_handler(settings: Settings, http: httpx.AsyncClient) -> Handler:
    """Deliver `partner.webhook` messages, signing each attempt."""
    cipher = FieldCipher.of_setting(settings.field_encryption_keys)

    async def deliver(message: ClaimedMessage) -> None:
        payload: Mapping[str, Any] = message.payload
        url, secret = payload.get("url"), payload.get("secret")
        if not isinstance(url, str) or not isinstance(secret, str):
            raise PermanentDeliveryError("partner.webhook payload needs 'url' and 'secret'")
        body = encode_json(payload.get("json"))
        headers = signature_headers(cipher.decrypt(secret), body, utcnow())
        extensions: dict[str, Any] = {}
        if settings.webhook_targets_must_be_public:
            try:
                pinned = await public_address.pin(url)
            except (public_address.NotPublicTarget, public_address.UnresolvableTarget) as exc:
                # Retried later: DNS may answer otherwise then; nothing is sent meanwhile.
                raise RetryableDeliveryError(f"webhook target refused: {exc}") from exc
            url, extensions = pinned.url, pinned.extensions
            headers.update(pinned.headers)
        await post_idempotent(http, url, body, message.idempotency_key, headers, extensions)

    return deliver
