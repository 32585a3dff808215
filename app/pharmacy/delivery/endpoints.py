"""Delivery endpoints: each step of an order (store staff of its store, the courier assigned to
it, or the patient cancelling), positions and temperatures from the courier.

Every step accepts an Idempotency-Key: a retried request finds its first effect. The order is
resolved (and row-locked) in a dependency, which FastAPI runs before it validates the body: a
well-formed JSON body for someone else's order is 404 whatever its fields say. A body that is not
JSON at all is 422 first, since FastAPI decodes it before resolving any dependency.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.errors import NotFound
from app.i18n import translate
from app.idempotency import IdempotencyKey, RequiredIdempotencyKey
from app.models import PharmacyOrder, Role
from app.pharmacy import orders
from app.pharmacy.delivery import service as delivery_service
from app.pharmacy.delivery import tracking
from app.pharmacy.delivery.schemas import (
    DispatchIn,
    HandoverIn,
    LocationIn,
    LocationOut,
    ReasonIn,
    ScanIn,
    ScanItemOut,
    ScanOut,
    StepIn,
    TemperatureItemOut,
    TemperatureLogIn,
    TemperatureLogOut,
)
from app.pharmacy.delivery.states import Actor, OrderStatus
from app.pharmacy.schemas import OrderOut
from app.pharmacy.views import present_order

router = APIRouter(prefix="/api/v1/orders", tags=["delivery"])

StoreStaff = Annotated[Principal, require_roles(Role.pharmacist)]
CourierOnly = Annotated[Principal, require_roles(Role.courier)]
StaffOrCourier = Annotated[Principal, require_roles(Role.pharmacist, Role.courier)]
PatientOrStaff = Annotated[Principal, require_roles(Role.patient, Role.pharmacist)]


async def _order(
    order_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PharmacyOrder:
    order = await orders.get_order(session, principal, order_id, lock=True)
    # A courier acts only on the deliveries assigned to them.
    if principal.role == Role.courier and order.courier_account_id != principal.account_id:
        raise NotFound()
    return order


Order = Annotated[PharmacyOrder, Depends(_order)]


async def _out(session: DbSession, principal: Principal, order: PharmacyOrder) -> OrderOut:
    return await present_order(session, principal, order)


@router.post("/{order_id}/accept", response_model=OrderOut)
async def accept_order(
    order: Order, principal: StoreStaff, request: Request, session: DbSession,
    body: StepIn | None = None, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """The store takes the order on."""
    place = (body or StepIn()).to_place()
    await delivery_service.step(
        session, request.app.state.hub, order, OrderStatus.accepted, Actor.of(principal), place,
        key,
    )  # fmt: skip
    return await _out(session, principal, order)


@router.post("/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(
    order: Order, body: ReasonIn, principal: PatientOrStaff, request: Request, session: DbSession,
    key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """Cancel before picking (patient or store); the prescription can be ordered again."""
    await delivery_service.cancel(
        session, request.app.state.hub, order, Actor.of(principal), body.reason, key
    )
    return await _out(session, principal, order)


@router.post("/{order_id}/scans", response_model=ScanOut)
async def scan_boxes(
    order: Order, body: ScanIn, principal: StoreStaff, request: Request, session: DbSession
) -> ScanOut:
    """Scan boxes by traceability code; per box accepted, duplicate or rejected with reason."""
    boxes = [delivery_service.BoxScan(box.drug_id, box.code) for box in body.boxes]
    results = await delivery_service.scan_boxes(
        session, request.app.state.hub, order, Actor.of(principal), boxes
    )
    view = await _out(session, principal, order)
    return ScanOut(
        items=[ScanItemOut.model_validate(r, from_attributes=True) for r in results],
        complete=all(line.scanned >= line.packs for line in view.lines),
    )


@router.post("/{order_id}/pick", response_model=OrderOut)
async def pick_order(
    order: Order, principal: StoreStaff, request: Request, session: DbSession,
    body: StepIn | None = None, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """Every box is scanned: picked (the prescription counts as dispensed from here)."""
    place = (body or StepIn()).to_place()
    await delivery_service.pick(
        session, request.app.state.hub, order, Actor.of(principal), place, key
    )
    return await _out(session, principal, order)


@router.post("/{order_id}/dispatch", response_model=OrderOut)
async def dispatch_order(
    order: Order, body: DispatchIn, principal: StoreStaff, request: Request, session: DbSession,
    key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """Give the parcel to one of the store's couriers (cold chain: with its seal id)."""
    await delivery_service.dispatch(
        session, request.app.state.hub, request.app.state.settings, order, Actor.of(principal),
        body.courier_account_id, body.seal_id, body.to_place(), key,
    )  # fmt: skip
    return await _out(session, principal, order)


@router.post("/{order_id}/location", response_model=LocationOut)
async def report_location(
    order: Order, body: LocationIn, principal: CourierOnly, request: Request, session: DbSession,
    key: RequiredIdempotencyKey,
) -> LocationOut:  # fmt: skip
    """The courier's position; the patient and the store see it live with a new ETA."""
    recorded = await tracking.report_location(
        session, request.app.state.hub, request.app.state.settings, order, Actor.of(principal),
        body.lat, body.lng, key,
    )  # fmt: skip
    return LocationOut(recorded=recorded, eta_at=order.eta_at)


@router.post("/{order_id}/temperatures", response_model=TemperatureLogOut)
async def log_temperatures(
    order: Order, body: TemperatureLogIn, principal: CourierOnly, request: Request,
    session: DbSession,
) -> TemperatureLogOut:  # fmt: skip
    """Cold-chain log of the parcel, reported per reading. In transit a reading outside 2-8 C
    fails the delivery (return); after hand-over nothing changes the order."""
    readings = [tracking.Reading(r.measured_at, r.celsius) for r in body.readings]
    result = await tracking.log_temperatures(
        session, request.app.state.hub, request.app.state.settings, order, Actor.of(principal),
        readings, body.seal_id,
    )  # fmt: skip
    return TemperatureLogOut(
        recorded=result.recorded,
        duplicates=result.duplicates,
        rejected=result.rejected,
        excursion=result.excursion,
        status=order.status,
        items=[
            TemperatureItemOut(
                measured_at=item.measured_at,
                outcome=item.outcome,
                reason=item.reason,
                message=None if item.reason is None else translate(item.reason),
                in_range=item.in_range,
                late=item.late,
            )
            for item in result.items
        ],
    )


@router.post("/{order_id}/handover", response_model=OrderOut)
async def hand_over(
    order: Order, body: HandoverIn, principal: StaffOrCourier, request: Request,
    session: DbSession, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """Delivered, proven by the patient's one-time code (courier; store staff for pickup)."""
    await delivery_service.hand_over(
        session, request.app.state.hub, request.app.state.settings, order, Actor.of(principal),
        body.code, body.seal_id, body.to_place(), key,
    )  # fmt: skip
    return await _out(session, principal, order)


@router.post("/{order_id}/handover-code", response_model=OrderOut)
async def reissue_handover_code(
    order: Order, principal: StoreStaff, request: Request, session: DbSession
) -> OrderOut:
    """A new hand-over code after too many wrong ones (the patient sees it in their app)."""
    await delivery_service.reissue_handover_code(session, request.app.state.hub, order)
    return await _out(session, principal, order)


@router.post("/{order_id}/complete", response_model=OrderOut)
async def complete_order(
    order: Order, principal: StaffOrCourier, request: Request, session: DbSession,
    body: StepIn | None = None, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """Close a delivered order (a cold-chain parcel needs a clean temperature log)."""
    place = (body or StepIn()).to_place()
    await delivery_service.complete(
        session, request.app.state.hub, order, Actor.of(principal), place, key
    )
    return await _out(session, principal, order)


@router.post("/{order_id}/fail", response_model=OrderOut)
async def fail_delivery(
    order: Order, body: ReasonIn, principal: StaffOrCourier, request: Request,
    session: DbSession, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """The delivery failed before hand-over; the parcel must come back. (After hand-over the
    sale is final: a problem then is a quality return.)"""
    await delivery_service.step(
        session, request.app.state.hub, order, OrderStatus.delivery_failed, Actor.of(principal),
        body.to_place(), key, body.reason,
    )  # fmt: skip
    return await _out(session, principal, order)


@router.post("/{order_id}/return", response_model=OrderOut)
async def start_return(
    order: Order, principal: StaffOrCourier, request: Request, session: DbSession,
    body: StepIn | None = None, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """The failed parcel is on its way back to the store."""
    place = (body or StepIn()).to_place()
    await delivery_service.step(
        session, request.app.state.hub, order, OrderStatus.returning, Actor.of(principal), place,
        key,
    )  # fmt: skip
    return await _out(session, principal, order)


@router.post("/{order_id}/returned", response_model=OrderOut)
async def mark_returned(
    order: Order, principal: StoreStaff, request: Request, session: DbSession,
    body: StepIn | None = None, key: IdempotencyKey = None,
) -> OrderOut:  # fmt: skip
    """The store has the parcel back (its boxes stay sold: they left the store's custody)."""
    place = (body or StepIn()).to_place()
    await delivery_service.step(
        session, request.app.state.hub, order, OrderStatus.returned, Actor.of(principal), place,
        key,
    )  # fmt: skip
    return await _out(session, principal, order)
