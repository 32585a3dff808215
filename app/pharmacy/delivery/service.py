"""What happens to an order after it is placed: accept, pick (by traceability code), dispatch,
hand over against the patient's one-time code, complete, or fail and come back.

Callers authorise first (store staff of the order's store, the assigned courier, the patient,
or a verified partner callback) and pass the `Actor`; every function here moves the order only
through `states.transition`, so each step is recorded with actor, time and place, and a retried
request with the same Idempotency-Key changes nothing the second time.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import events as domain_events
from app.config import Settings
from app.errors import Conflict
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import (
    DispensedBox,
    PharmacyOrder,
    PharmacyStore,
    Prescription,
)
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy import webhooks
from app.pharmacy.delivery import events, geo, tracking
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery.facts import OrderHandedOver
from app.pharmacy.delivery.states import (
    ORDER_MACHINE,
    Actor,
    OrderStatus,
    Place,
    replayed,
    transition,
)
from app.prescription import repository as prescription_repository
from app.prescription.states import RxStatus, move
from app.realtime.hub import RealtimeHub

HANDOVER_CODE_DIGITS = 6


@dataclass(frozen=True)
class BoxScan:
    drug_id: uuid.UUID
    code: str


@dataclass(frozen=True)
class ScanResult:
    """Per box: accepted, duplicate (already on this order) or rejected with a reason."""

    code: str
    outcome: str
    reason: str | None = None


def box_fact(
    box: DispensedBox,
    event: str,
    actor: Actor,
    at: datetime,
    reason: str | None = None,
    return_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """One append-only fact about a box (`traceability_events` row)."""
    return {
        "code": box.code,
        "order_id": box.order_id,
        "drug_id": box.drug_id,
        "event": event,
        "at": at,
        "actor_kind": actor.kind,
        "actor_account_id": actor.account_id,
        "actor_name": actor.name[:64],
        "reason": None if reason is None else reason[:500],
        "return_id": return_id,
    }


async def _prescription(session: AsyncSession, order: PharmacyOrder) -> Prescription:
    prescription = await prescription_repository.get_for_update(session, order.prescription_id)
    assert prescription is not None
    return prescription


async def step(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    target: OrderStatus,
    actor: Actor,
    place: Place | None,
    key: str | None,
    note: str | None = None,
) -> bool:
    """Move the order (plain steps: accept, fail, return, returned) and push the change;
    False, with nothing changed, when `key` was already used on this order."""
    if await replayed(session, order.id, key):
        return False
    await transition(session, order, target, actor, place, note, key)
    await events.publish_order(session, hub, order)
    return True


async def cancel(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    actor: Actor,
    reason: str,
    key: str | None = None,
) -> None:
    """Cancel before picking: the stock goes back, the prescription may be ordered again, and
    boxes already scanned are released (each may be sold again; the scan and the release stay
    in the box's history)."""
    if not await step(session, hub, order, OrderStatus.cancelled, actor, None, key, reason):
        return
    now = utcnow()
    released = await delivery_repository.release_boxes(session, order.id)
    await delivery_repository.add_box_events(
        session, [box_fact(box, "released", actor, now, reason) for box in released]
    )
    lines = await pharmacy_repository.lines_with_drugs(session, order.id)
    packs: dict[uuid.UUID, int] = {}
    for line, _drug in lines:
        packs[line.drug_id] = packs.get(line.drug_id, 0) + line.packs
    await pharmacy_repository.return_stock(session, order.store_id, packs)
    prescription = await _prescription(session, order)
    if RxStatus(prescription.status) == RxStatus.ordered:
        await move(session, prescription, RxStatus.approved, actor.account_id, "order cancelled")
    await webhooks.notify_partner(session, order, "order.cancelled", lines)


async def cancel_for_revocation(
    session: AsyncSession, hub: RealtimeHub, prescription: Prescription, actor: Actor, reason: str
) -> None:
    """The doctor revokes an ordered prescription: its order is cancelled if not yet picked
    (after picking the order's own machine refuses with 409 and nothing changes)."""
    if RxStatus(prescription.status) != RxStatus.ordered:
        return
    order = await pharmacy_repository.live_order_of_prescription(session, prescription.id)
    if order is not None:
        await cancel(session, hub, order, actor, reason)


async def scan_boxes(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    actor: Actor,
    boxes: Sequence[BoxScan],
) -> list[ScanResult]:
    """Record scanned boxes of an accepted order; a code sold on any order before is refused.
    An accepted box changes the order (its picking progress): its `updated_at` moves on and
    every board of the store redraws it, so a copy read before the scan never wins over it."""
    if OrderStatus(order.status) != OrderStatus.accepted:
        raise Conflict("scanning_not_open", status=order.status)
    needed = {line.drug_id: line.packs for line, _ in await pharmacy_repository.lines_with_drugs(
        session, order.id
    )}  # fmt: skip
    scanned = await pharmacy_repository.count_scanned(session, order.id)
    known = await pharmacy_repository.boxes_by_code(session, [box.code for box in boxes])
    results = []
    facts: list[dict[str, Any]] = []
    for box in boxes:
        earlier = known.get(box.code)
        if earlier is not None:
            results.append(
                ScanResult(box.code, "duplicate")
                if earlier.order_id == order.id
                else ScanResult(box.code, "rejected", "traceability_code_used")
            )
            continue
        if box.drug_id not in needed:
            results.append(ScanResult(box.code, "rejected", "drug_not_in_order"))
            continue
        if scanned.get(box.drug_id, 0) >= needed[box.drug_id]:
            results.append(ScanResult(box.code, "rejected", "too_many_boxes"))
            continue
        now = utcnow()
        try:
            # The code is the primary key: a concurrent sale of the same box fails here.
            async with session.begin_nested():
                row = DispensedBox(
                    code=box.code,
                    order_id=order.id,
                    drug_id=box.drug_id,
                    scanned_by_account_id=actor.account_id,
                    scanned_at=now,
                )
                session.add(row)
        except IntegrityError:
            results.append(ScanResult(box.code, "rejected", "traceability_code_used"))
            continue
        facts.append(box_fact(row, "scanned", actor, now))
        known[box.code] = row
        scanned[box.drug_id] = scanned.get(box.drug_id, 0) + 1
        results.append(ScanResult(box.code, "accepted"))
    await delivery_repository.add_box_events(session, facts)
    if facts:
        order.updated_at = utcnow()
        await session.flush()
        await events.publish_order(session, hub, order)
    return results


async def pick(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    actor: Actor,
    place: Place | None = None,
    key: str | None = None,
) -> None:
    """Every box is scanned: the order is picked and the prescription dispensed."""
    if await replayed(session, order.id, key):
        return
    lines = await pharmacy_repository.lines_with_drugs(session, order.id)
    scanned = await pharmacy_repository.count_scanned(session, order.id)
    if OrderStatus(order.status) == OrderStatus.accepted and any(
        scanned.get(line.drug_id, 0) < line.packs for line, _ in lines
    ):
        raise Conflict("picking_incomplete")
    if order.fulfilment == "pickup":
        order.handover_code = _new_code()
    await step(session, hub, order, OrderStatus.picked, actor, place, key)
    await move(session, await _prescription(session, order), RxStatus.dispensed, actor.account_id)


async def dispatch(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    actor: Actor,
    courier_account_id: uuid.UUID | None,
    seal_id: str | None,
    place: Place | None = None,
    key: str | None = None,
) -> None:
    """Hand the parcel to a courier of the store (partner stores use their own couriers)."""
    if await replayed(session, order.id, key):
        return
    if OrderStatus(order.status) == OrderStatus.picked:
        if courier_account_id is not None:
            await _check_courier(session, order.store_id, courier_account_id)
        if order.cold_chain and not seal_id:
            raise Conflict("seal_required")
    order.courier_account_id = courier_account_id
    order.seal_id = seal_id
    order.handover_code = _new_code()
    order.handover_failures = 0
    store = await by_id(session, PharmacyStore, order.store_id)
    assert store is not None
    order.eta_at = await tracking.estimate_arrival(
        session, settings, order, geo.centre_of(store.district_code)
    )
    await step(session, hub, order, OrderStatus.dispatched, actor, place, key)


async def _check_courier(
    session: AsyncSession, store_id: uuid.UUID, courier_account_id: uuid.UUID
) -> None:
    if not await delivery_repository.is_courier_of_store(session, store_id, courier_account_id):
        raise Conflict("courier_not_of_store")


def _new_code() -> str:
    return f"{secrets.randbelow(10**HANDOVER_CODE_DIGITS):0{HANDOVER_CODE_DIGITS}d}"


async def hand_over(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    actor: Actor,
    code: str,
    seal_id: str | None,
    place: Place | None = None,
    key: str | None = None,
) -> None:
    """Delivered: the patient's one-time code proves it (and, cold chain, the seal is intact)."""
    if await replayed(session, order.id, key):
        return
    source = OrderStatus(order.status)
    expected_source = (
        OrderStatus.dispatched if order.fulfilment == "delivery" else OrderStatus.picked
    )
    if source != expected_source:
        ORDER_MACHINE.refuse(source, OrderStatus.delivered)
    if order.handover_failures >= settings.handover_code_max_failures:
        raise Conflict("handover_code_locked")
    if order.handover_code is None or not hmac.compare_digest(order.handover_code, code):
        order.handover_failures += 1
        await session.flush()
        # The failed attempt is kept (committed) so that guessing runs out.
        raise Conflict("handover_code_invalid", keep_changes=True)
    if order.cold_chain:
        if seal_id != order.seal_id:
            raise Conflict("seal_mismatch")
        await _refuse_excursion(session, order)
    order.handover_code = None
    if await step(session, hub, order, OrderStatus.delivered, actor, place, key):
        await domain_events.record(session, OrderHandedOver(order))


async def reissue_handover_code(
    session: AsyncSession, hub: RealtimeHub, order: PharmacyOrder
) -> None:
    """A fresh code after too many wrong ones (the store confirms the patient by phone)."""
    if order.status not in ("picked", "dispatched") or order.handover_code is None:
        raise Conflict("handover_not_pending")
    order.handover_code = _new_code()
    order.handover_failures = 0
    order.updated_at = utcnow()
    await session.flush()
    await events.publish_order(session, hub, order)


async def _refuse_excursion(session: AsyncSession, order: PharmacyOrder) -> None:
    readings = await delivery_repository.in_transit_readings(session, order.id)
    if not readings:
        raise Conflict("cold_chain_log_missing")
    if not all(reading.in_range for reading in readings):
        raise Conflict("cold_chain_excursion")


async def complete(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    actor: Actor,
    place: Place | None = None,
    key: str | None = None,
) -> None:
    """Close a delivered order. The cold chain was judged at hand-over (a clean log was
    required then); readings that arrived later are evidence for a quality return, not a
    reason to keep the order open."""
    await step(session, hub, order, OrderStatus.completed, actor, place, key)
