"""Routing and ordering: the stores that cover the patient's district and hold the stock, and
the order the patient places at the one they choose (stock reserved in the same transaction)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import (
    District,
    Patient,
    PharmacyOrder,
    PharmacyOrderLine,
    PharmacyStore,
    Prescription,
    PrescriptionItem,
)
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy import webhooks
from app.pharmacy.delivery import events, geo, settlement_link
from app.pharmacy.delivery.states import Actor, OrderStatus, record
from app.pharmacy.schemas import Coordinates, OrderCreate
from app.prescription import repository as rx_repository
from app.prescription import service as rx_service
from app.prescription.states import RxStatus, move
from app.realtime.hub import RealtimeHub

RESOURCE = "pharmacy_order"


@dataclass(frozen=True)
class Proposal:
    """A store that can fill the prescription for the patient."""

    store: PharmacyStore
    same_district: bool
    partner_system: bool


async def _orderable(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID, *, lock: bool = False
) -> tuple[Prescription, Sequence[PrescriptionItem]]:
    """The patient's own approved, unexpired, intact prescription (else 404 / 409)."""
    prescription = await rx_repository.get_visible(session, principal, prescription_id, lock=lock)
    if prescription is None or prescription.patient_id != principal.patient_id:
        raise NotFound()
    if RxStatus(prescription.status) != RxStatus.approved:
        raise Conflict("prescription_not_approved", status=prescription.status)
    if rx_service.is_expired(prescription):
        raise Conflict("prescription_expired")
    items = await rx_repository.items_of(session, prescription.id)
    await rx_service.verify(session, prescription, items)
    return prescription, items


async def _home_district(session: AsyncSession, patient_id: uuid.UUID) -> tuple[Patient, District]:
    patient = await by_id(session, Patient, patient_id)
    assert patient is not None
    if patient.district_code is None or not patient.address:
        raise Conflict("address_missing")
    district = await pharmacy_repository.district(session, patient.district_code)
    assert district is not None
    return patient, district


def _packs_by_drug(items: Sequence[PrescriptionItem]) -> Counter[uuid.UUID]:
    needs: Counter[uuid.UUID] = Counter()
    for item in items:
        needs[item.drug_id] += item.packs
    return needs


async def _proposals(
    session: AsyncSession, district: District, items: Sequence[PrescriptionItem]
) -> list[Proposal]:
    stores = await pharmacy_repository.covering_stores(session, district.code)
    if not stores:
        # Refused at routing with the reason: nobody delivers there.
        raise Conflict("district_not_covered", district=district.name_zh)
    needs = _packs_by_drug(items)
    stock = await pharmacy_repository.stock_levels(
        session, [store.id for store in stores], list(needs)
    )
    found = []
    for store in stores:
        if all(stock.get((store.id, drug_id), 0) >= packs for drug_id, packs in needs.items()):
            partner = await pharmacy_repository.integration(session, store.id) is not None
            found.append(Proposal(store, store.district_code == district.code, partner))
    if not found:
        raise Conflict("no_store_in_stock", district=district.name_zh)
    return sorted(found, key=lambda p: (not p.same_district, p.store.code))


async def propose(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID
) -> tuple[District, list[Proposal]]:
    """Stores the patient may choose from (their home district's first)."""
    prescription, items = await _orderable(session, principal, prescription_id)
    _, district = await _home_district(session, prescription.patient_id)
    return district, await _proposals(session, district, items)


async def create_order(
    session: AsyncSession,
    hub: RealtimeHub,
    principal: Principal,
    body: OrderCreate,
    idempotency_key: str,
) -> PharmacyOrder:
    """Place the patient's order at the chosen store (a retried key returns the first order)."""
    assert principal.patient_id is not None
    existing = await pharmacy_repository.order_by_key(
        session, principal.patient_id, idempotency_key
    )
    if existing is not None:
        return existing
    prescription, items = await _orderable(session, principal, body.prescription_id, lock=True)
    patient, district = await _home_district(session, prescription.patient_id)
    proposals = {p.store.id: p for p in await _proposals(session, district, items)}
    if body.store_id not in proposals:
        raise Conflict("store_not_available")
    needs = _packs_by_drug(items)
    for drug_id, packs in needs.items():
        if not await pharmacy_repository.take_stock(session, body.store_id, drug_id, packs):
            raise Conflict("out_of_stock")
    drugs = await rx_repository.drugs_by_id(session, list(needs))
    destination = body.destination or Coordinates(
        lat=geo.centre_of(district.code)[0], lng=geo.centre_of(district.code)[1]
    )
    now = utcnow()
    order = PharmacyOrder(
        prescription_id=prescription.id,
        patient_id=patient.id,
        store_id=body.store_id,
        fulfilment=body.fulfilment,
        status=OrderStatus.created,
        total_fen=prescription.total_fen,
        idempotency_key=idempotency_key,
        district_code=district.code,
        delivery_address=patient.address,
        delivery_phone=patient.phone,
        destination_lat=destination.lat,
        destination_lng=destination.lng,
        cold_chain=any(drugs[drug_id].cold_chain for drug_id in needs),
        pay_from_personal_account=body.pay_from_personal_account,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    lines = []
    for item in items:
        line = PharmacyOrderLine(
            order_id=order.id,
            prescription_item_id=item.id,
            drug_id=item.drug_id,
            packs=item.packs,
            amount_fen=item.amount_fen,
        )
        session.add(line)
        lines.append((line, drugs[item.drug_id]))
    await session.flush()
    await move(session, prescription, RxStatus.ordered, principal.account_id)
    await record(session, order, None, OrderStatus.created, Actor.of(principal))
    await settlement_link.presettle_order(session, order)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, order.id, patient.id
    )
    await webhooks.notify_partner(session, order, "order.created", lines)
    await events.publish_order(session, hub, order)
    return order


async def get_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, *, lock: bool = False
) -> PharmacyOrder:
    """An order the caller may see (audited read), else 404."""
    order = await pharmacy_repository.get_visible_order(session, principal, order_id, lock=lock)
    if order is None:
        raise NotFound()
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, order.id, order.patient_id
    )
    return order


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    narrowed: pharmacy_repository.OrderFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[PharmacyOrder]:
    """The caller's orders that pass `narrowed`, newest first; every order listed is an
    audited read of its patient's data (name, address, phone), appended in one round trip."""
    rows = await pharmacy_repository.list_visible_orders(session, principal, narrowed, limit, after)
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(row.id, row.patient_id) for row in rows]
    )
    return rows
