"""Inbound status callbacks from partner pharmacy systems.

Each callback is signed like our webhooks (HMAC-SHA256 over `timestamp.body`) and carries a
nonce in Idempotency-Key. A stale timestamp (outside the window) or a bad signature is refused
(401); a nonce seen before is a duplicate and has no second effect; a report of the status the
order already has changes nothing. Everything else goes through the same delivery functions as
the built-in dashboard, so the same state machine decides.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import AppError, Conflict, NotFound, Unauthorized
from app.idempotency.keys import IdempotencyKeyReused
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import PharmacyOrder, PharmacyStore
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy.delivery import service as delivery_service
from app.pharmacy.delivery.states import Actor, OrderStatus, Place
from app.pharmacy.schemas import CallbackAck, PartnerCallbackIn
from app.pharmacy.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_matches
from app.realtime.hub import RealtimeHub

NONCE_HEADER = "Idempotency-Key"


class MalformedCallback(AppError):
    status = 422
    code = "partner_callback_malformed"


def _authenticate(settings: Settings, secret: str, headers: Mapping[str, str], body: bytes) -> str:
    """The callback's nonce, once its freshness and signature are proven (else 401)."""
    timestamp = headers.get(TIMESTAMP_HEADER.lower())
    signature = headers.get(SIGNATURE_HEADER.lower())
    nonce = headers.get(NONCE_HEADER.lower())
    if not timestamp or not signature or not nonce or len(nonce) > 64 or not timestamp.isdigit():
        raise Unauthorized("partner_signature_invalid")
    if abs(utcnow().timestamp() - int(timestamp)) > settings.partner_signature_window_seconds:
        raise Unauthorized("partner_callback_stale")
    if not signature_matches(secret, timestamp, body, signature):
        raise Unauthorized("partner_signature_invalid")
    return nonce


async def receive(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    store_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
) -> CallbackAck:
    """Verify and apply one partner callback (see the module docstring)."""
    integration = await pharmacy_repository.integration(session, store_id)
    if integration is None:
        raise NotFound()
    nonce = _authenticate(settings, integration.secret, headers, body)
    digest = hashlib.sha256(body).hexdigest()
    callback, fresh = await pharmacy_repository.remember_callback(
        session, store_id, nonce, digest, utcnow()
    )
    if not fresh:
        seen = callback
        if seen.body_sha256 != digest:
            # A key reused with another request: 422, as for every Idempotency-Key.
            raise IdempotencyKeyReused("partner_nonce_reused")
        order = (
            await by_id(session, PharmacyOrder, seen.order_id)
            if seen.order_id is not None
            else None
        )
        return CallbackAck(
            outcome="duplicate",
            order_id=seen.order_id,
            status=None if order is None else order.status,
        )
    try:
        report = PartnerCallbackIn.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedCallback(extra={"errors": exc.errors(include_url=False)}) from exc
    order = await pharmacy_repository.get_order_for_update(session, report.order_id)
    if order is None or order.store_id != store_id:
        raise NotFound()
    store = await by_id(session, PharmacyStore, store_id)
    assert store is not None
    actor = Actor("partner", f"partner:{store.code}")
    outcome = "unchanged"
    if report.status != order.status:
        await _apply(session, hub, settings, order, actor, report)
        outcome = "applied"
    callback.order_id, callback.outcome = order.id, outcome
    await session.flush()
    return CallbackAck(outcome=outcome, order_id=order.id, status=order.status)


async def _apply(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    actor: Actor,
    report: PartnerCallbackIn,
) -> None:
    place = Place(report.lat, report.lng, report.place)
    target = OrderStatus(report.status)
    match target:
        case OrderStatus.accepted:
            await delivery_service.step(session, hub, order, target, actor, place, None)
        case OrderStatus.picked:
            await _scan(session, hub, order, actor, report)
            await delivery_service.pick(session, hub, order, actor, place)
        case OrderStatus.dispatched:
            await delivery_service.dispatch(
                session, hub, settings, order, actor, None, report.seal_id, place
            )
        case OrderStatus.delivered:
            await delivery_service.hand_over(
                session, hub, settings, order, actor, report.handover_code or "",
                report.seal_id, place,
            )  # fmt: skip
        case OrderStatus.completed:
            await delivery_service.complete(session, hub, order, actor, place)
        case OrderStatus.cancelled:
            await delivery_service.cancel(session, hub, order, actor, report.reason or "partner")
        case OrderStatus.delivery_failed:
            note = report.reason or "partner"
            await delivery_service.step(session, hub, order, target, actor, place, None, note)
        case OrderStatus.returning | OrderStatus.returned:
            await delivery_service.step(session, hub, order, target, actor, place, None)


async def _scan(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    actor: Actor,
    report: PartnerCallbackIn,
) -> None:
    """The partner reports its scanned boxes by national drug code."""
    if OrderStatus(order.status) != OrderStatus.accepted:
        return  # the pick itself is refused below with the machine's 409
    by_code = {
        drug.national_code: drug.id
        for _, drug in await pharmacy_repository.lines_with_drugs(session, order.id)
    }
    boxes = [
        delivery_service.BoxScan(by_code[box.national_code], box.code)
        for box in report.boxes
        if box.national_code in by_code
    ]
    if len(boxes) != len(report.boxes):
        raise Conflict("drug_not_in_order")
    results = await delivery_service.scan_boxes(session, hub, order, actor, boxes)
    refused = [r for r in results if r.outcome == "rejected"]
    if refused:
        raise Conflict(refused[0].reason or "traceability_code_used")
