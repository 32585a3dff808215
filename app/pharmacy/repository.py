"""SQL for stock, orders (always through the caller's scope), stores and partner systems."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, cast, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.kit.clock import utcnow
from app.kit.pagination import beyond
from app.kit.sql import dialect_insert, insert_ignoring_conflicts, one_of
from app.models import (
    Account,
    ColdChainReading,
    DispensedBox,
    District,
    Drug,
    OrderTransition,
    PartnerCallback,
    Patient,
    PharmacyOrder,
    PharmacyOrderLine,
    PharmacyStaff,
    PharmacyStock,
    PharmacyStore,
    PharmacyStoreCoverage,
    Presettlement,
    Role,
    Settlement,
    StoreIntegration,
    TraceabilityEvent,
)
from app.pharmacy.delivery import repository as delivery_repository


def order_scope(principal: Principal) -> ColumnElement[bool]:
    """Orders the caller may see: a patient their own; store staff (pharmacists, couriers)
    only those routed to their store."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return PharmacyOrder.patient_id == principal.patient_id
    if principal.role in (Role.pharmacist, Role.courier) and principal.store_id is not None:
        return PharmacyOrder.store_id == principal.store_id
    return false()


async def get_visible_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, *, lock: bool = False
) -> PharmacyOrder | None:
    """The order if the caller may see it (row-locked for a change when `lock`)."""
    statement = select(PharmacyOrder).where(PharmacyOrder.id == order_id, order_scope(principal))
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def get_order_for_update(session: AsyncSession, order_id: uuid.UUID) -> PharmacyOrder | None:
    """An order by id, row-locked (for callers that authenticated another way)."""
    return await session.scalar(
        select(PharmacyOrder).where(PharmacyOrder.id == order_id).with_for_update()
    )


@dataclass(frozen=True)
class OrderFilter:
    """What a list of orders is narrowed to: states, a creation window [`created_from`,
    `created_before`) in UTC, a courier, and a search text (an order id's leading hex digits, or
    part of the patient's name: never the encrypted address or phone)."""

    statuses: Sequence[str] = ()
    created_from: datetime | None = None
    created_before: datetime | None = None
    courier_account_id: uuid.UUID | None = None
    search: str | None = None


def _searched(text: str) -> ColumnElement[bool]:
    # A UUID reads as 32 hex digits without dashes on SQLite and with them on PostgreSQL; the
    # comparison drops the dashes on both sides so a prefix copied from either form matches.
    digits = text.replace("-", "").lower()
    by_name = Patient.name.contains(text, autoescape=True)
    if digits and all(c in "0123456789abcdef" for c in digits):
        hex_id = func.replace(cast(PharmacyOrder.id, String), "-", "")
        return or_(hex_id.startswith(digits, autoescape=True), by_name)
    return by_name


async def list_visible_orders(
    session: AsyncSession,
    principal: Principal,
    narrowed: OrderFilter,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[PharmacyOrder]:
    """The caller's orders that pass `narrowed`, newest first (after the `after`
    (created_at, id) key)."""
    statement = select(PharmacyOrder).where(order_scope(principal))
    if narrowed.statuses:
        statement = statement.where(PharmacyOrder.status.in_(narrowed.statuses))
    if narrowed.created_from is not None:
        statement = statement.where(PharmacyOrder.created_at >= narrowed.created_from)
    if narrowed.created_before is not None:
        statement = statement.where(PharmacyOrder.created_at < narrowed.created_before)
    if narrowed.courier_account_id is not None:
        statement = statement.where(PharmacyOrder.courier_account_id == narrowed.courier_account_id)
    if narrowed.search:
        statement = statement.join(Patient, Patient.id == PharmacyOrder.patient_id).where(
            _searched(narrowed.search)
        )
    order = (PharmacyOrder.created_at, PharmacyOrder.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    statement = statement.order_by(*(c.desc() for c in order)).limit(limit)
    return (await session.scalars(statement)).all()


async def live_order_of_prescription(
    session: AsyncSession, prescription_id: uuid.UUID
) -> PharmacyOrder | None:
    """The prescription's order that is not cancelled, row-locked."""
    return await session.scalar(
        select(PharmacyOrder)
        .where(
            PharmacyOrder.prescription_id == prescription_id, PharmacyOrder.status != "cancelled"
        )
        .with_for_update()
    )


async def order_by_key(
    session: AsyncSession, patient_id: uuid.UUID, key: str
) -> PharmacyOrder | None:
    """The order this patient already created with `key`, if any."""
    return await session.scalar(
        select(PharmacyOrder).where(
            PharmacyOrder.patient_id == patient_id, PharmacyOrder.idempotency_key == key
        )
    )


async def lines_of(session: AsyncSession, order_id: uuid.UUID) -> Sequence[PharmacyOrderLine]:
    """The lines of an order."""
    return (
        await session.scalars(
            select(PharmacyOrderLine).where(PharmacyOrderLine.order_id == order_id)
        )
    ).all()


@dataclass(frozen=True)
class OrderDetails:
    """What presenting orders needs beyond their rows, loaded for many orders at once."""

    lines: dict[uuid.UUID, list[tuple[PharmacyOrderLine, Drug]]]
    boxes: dict[uuid.UUID, list[DispensedBox]]
    history: dict[uuid.UUID, list[OrderTransition]]
    stores: dict[uuid.UUID, PharmacyStore]
    patients: dict[uuid.UUID, Patient]
    couriers: dict[uuid.UUID, Account]
    box_events: dict[uuid.UUID, list[TraceabilityEvent]]
    late_excursions: set[uuid.UUID]
    cold_chain_logs: dict[uuid.UUID, list[ColdChainReading]]
    quotes: dict[uuid.UUID, Presettlement]
    settlements: dict[uuid.UUID, Settlement]


async def order_details(session: AsyncSession, orders: Sequence[PharmacyOrder]) -> OrderDetails:
    """Lines with drugs, scanned boxes, transitions, stores, patients, couriers, box histories,
    late cold-chain excursions, cold-chain logs, the newest quotes and the settlements of
    `orders`, in eleven queries whatever their number."""
    ids = [order.id for order in orders]
    boxes: dict[uuid.UUID, list[DispensedBox]] = defaultdict(list)
    for box in await session.scalars(
        select(DispensedBox)
        .where(one_of(session, DispensedBox.order_id, ids))
        .order_by(DispensedBox.scanned_at, DispensedBox.code)
    ):
        boxes[box.order_id].append(box)
    history: dict[uuid.UUID, list[OrderTransition]] = defaultdict(list)
    for transition in await session.scalars(
        select(OrderTransition)
        .where(one_of(session, OrderTransition.order_id, ids))
        .order_by(OrderTransition.id)
    ):
        history[transition.order_id].append(transition)
    return OrderDetails(
        lines=await lines_with_drugs_of(session, ids),
        boxes=boxes,
        history=history,
        stores=await _by_id(session, PharmacyStore, {order.store_id for order in orders}),
        patients=await _by_id(session, Patient, {order.patient_id for order in orders}),
        couriers=await _by_id(
            session, Account, {o.courier_account_id for o in orders if o.courier_account_id}
        ),
        box_events=await delivery_repository.box_events_of(session, ids),
        late_excursions=await delivery_repository.orders_with_late_excursion(session, ids),
        cold_chain_logs=await _cold_chain_logs(session, ids),
        quotes=await _newest_quotes(session, ids),
        settlements=await _newest_settlements(session, ids),
    )


async def _cold_chain_logs(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ColdChainReading]]:
    """Each order's cold-chain temperature log (only cold-chain parcels have one), by
    measurement time."""
    logs: dict[uuid.UUID, list[ColdChainReading]] = defaultdict(list)
    for reading in await session.scalars(
        select(ColdChainReading)
        .where(one_of(session, ColdChainReading.order_id, order_ids))
        .order_by(ColdChainReading.measured_at)
    ):
        logs[reading.order_id].append(reading)
    return logs


async def _newest_quotes(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Presettlement]:
    """Each order's newest pre-settlement (the split shown when it was ordered)."""
    quotes: dict[uuid.UUID, Presettlement] = {}
    for quote in await session.scalars(
        select(Presettlement)
        .where(one_of(session, Presettlement.order_id, order_ids))
        .order_by(Presettlement.computed_at, Presettlement.id)
    ):
        quotes[quote.order_id] = quote
    return quotes


async def _newest_settlements(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Settlement]:
    """Each handed-over order's newest settlement (not its reversal): the split booked."""
    settlements: dict[uuid.UUID, Settlement] = {}
    for settlement in await session.scalars(
        select(Settlement)
        .where(one_of(session, Settlement.order_id, order_ids), Settlement.kind == "settlement")
        .order_by(Settlement.settled_at, Settlement.id)
    ):
        settlements[settlement.order_id] = settlement
    return settlements


async def _by_id(session: AsyncSession, model: Any, ids: set[Any]) -> dict[Any, Any]:
    if not ids:
        return {}
    return {
        row.id: row
        for row in await session.scalars(select(model).where(one_of(session, model.id, ids)))
    }


async def covering_stores(session: AsyncSession, district_code: str) -> Sequence[PharmacyStore]:
    """Active stores that deliver to the district."""
    return (
        await session.scalars(
            select(PharmacyStore)
            .join(PharmacyStoreCoverage, PharmacyStoreCoverage.store_id == PharmacyStore.id)
            .where(
                PharmacyStoreCoverage.district_code == district_code,
                PharmacyStore.is_active.is_(True),
            )
            .order_by(PharmacyStore.code)
        )
    ).all()


async def stock_levels(
    session: AsyncSession, store_ids: Sequence[uuid.UUID], drug_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, uuid.UUID], int]:
    """Packs on hand by (store, drug)."""
    if not store_ids or not drug_ids:
        return {}
    rows = await session.execute(
        select(PharmacyStock.store_id, PharmacyStock.drug_id, PharmacyStock.quantity).where(
            PharmacyStock.store_id.in_(store_ids), PharmacyStock.drug_id.in_(drug_ids)
        )
    )
    return {(store_id, drug_id): quantity for store_id, drug_id, quantity in rows}


async def take_stock(
    session: AsyncSession, store_id: uuid.UUID, drug_id: uuid.UUID, packs: int
) -> bool:
    """Reserve `packs` of the drug at the store if it has them (atomic; False if not)."""
    result = await session.execute(
        update(PharmacyStock)
        .where(
            PharmacyStock.store_id == store_id,
            PharmacyStock.drug_id == drug_id,
            PharmacyStock.quantity >= packs,
        )
        .values(quantity=PharmacyStock.quantity - packs, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def return_stock(
    session: AsyncSession, store_id: uuid.UUID, packs_by_drug: Mapping[uuid.UUID, int]
) -> None:
    """Give reserved packs back to the shelf (an order cancelled before picking)."""
    for drug_id, packs in packs_by_drug.items():
        await session.execute(
            update(PharmacyStock)
            .where(PharmacyStock.store_id == store_id, PharmacyStock.drug_id == drug_id)
            .values(quantity=PharmacyStock.quantity + packs, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )


async def set_stock(
    session: AsyncSession, store_id: uuid.UUID, drug_id: uuid.UUID, quantity: int
) -> PharmacyStock:
    """Set the packs on hand (a stock count): one upsert, so counts of a drug the store never
    stocked, sent at once, all set it (none loses a race to the first row)."""
    values = {"quantity": quantity, "updated_at": utcnow()}
    statement = (
        dialect_insert(session, PharmacyStock)
        .values(store_id=store_id, drug_id=drug_id, **values)
        .on_conflict_do_update(index_elements=["store_id", "drug_id"], set_=values)
        .returning(PharmacyStock)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one()


async def store_stock(session: AsyncSession, store_id: uuid.UUID) -> Sequence[PharmacyStock]:
    """A store's stock rows."""
    return (
        await session.scalars(
            select(PharmacyStock)
            .where(PharmacyStock.store_id == store_id)
            .order_by(PharmacyStock.drug_id)
        )
    ).all()


async def staff_accounts(session: AsyncSession, store_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """Accounts of the store's staff (who watch its order board)."""
    return (
        await session.scalars(
            select(PharmacyStaff.account_id)
            .join(Account, Account.id == PharmacyStaff.account_id)
            .where(PharmacyStaff.store_id == store_id, Account.is_active.is_(True))
        )
    ).all()


async def couriers_of(session: AsyncSession, store_id: uuid.UUID) -> Sequence[Account]:
    """Active courier accounts of the store."""
    return (
        await session.scalars(
            select(Account)
            .join(PharmacyStaff, PharmacyStaff.account_id == Account.id)
            .where(
                PharmacyStaff.store_id == store_id,
                Account.role == Role.courier,
                Account.is_active.is_(True),
            )
            .order_by(Account.display_name)
        )
    ).all()


async def store(session: AsyncSession, store_id: uuid.UUID) -> PharmacyStore | None:
    """A store by id."""
    return await session.get(PharmacyStore, store_id)


async def district(session: AsyncSession, code: str) -> District | None:
    """A district by code."""
    return await session.get(District, code)


async def integration(session: AsyncSession, store_id: uuid.UUID) -> StoreIntegration | None:
    """The store's active partner-system integration, if it has one."""
    row = await session.get(StoreIntegration, store_id)
    return row if row is not None and row.is_active else None


async def remember_callback(
    session: AsyncSession,
    store_id: uuid.UUID,
    nonce: str,
    body_sha256: str,
    received_at: datetime,
) -> tuple[PartnerCallback, bool]:
    """The record of a callback's nonce, and whether this is its first arrival."""
    lookup = select(PartnerCallback).where(
        PartnerCallback.store_id == store_id, PartnerCallback.nonce == nonce
    )
    seen = await session.scalar(lookup)
    if seen is not None:
        return seen, False
    row = PartnerCallback(
        store_id=store_id,
        nonce=nonce,
        body_sha256=body_sha256,
        outcome="received",
        received_at=received_at,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # The same callback arrived twice at once: the other request recorded it first.
        earlier = await session.scalar(lookup)
        assert earlier is not None
        return earlier, False
    return row, True


async def count_scanned(session: AsyncSession, order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Boxes scanned so far per drug."""
    rows = await session.execute(
        select(DispensedBox.drug_id, func.count())
        .where(DispensedBox.order_id == order_id)
        .group_by(DispensedBox.drug_id)
    )
    return {drug_id: int(count) for drug_id, count in rows}


async def boxes_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, DispensedBox]:
    """Boxes already sold, by traceability code."""
    if not codes:
        return {}
    rows = await session.scalars(select(DispensedBox).where(DispensedBox.code.in_(codes)))
    return {box.code: box for box in rows}


async def lines_with_drugs(
    session: AsyncSession, order_id: uuid.UUID
) -> list[tuple[PharmacyOrderLine, Drug]]:
    """The order's lines, each with its drug."""
    return (await lines_with_drugs_of(session, [order_id])).get(order_id, [])


async def lines_with_drugs_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[PharmacyOrderLine, Drug]]]:
    """Each order's lines with their drugs (by national code), in one query."""
    rows = await session.execute(
        select(PharmacyOrderLine, Drug)
        .join(Drug, Drug.id == PharmacyOrderLine.drug_id)
        .where(one_of(session, PharmacyOrderLine.order_id, order_ids))
        .order_by(PharmacyOrderLine.order_id, Drug.national_code)
    )
    lines: dict[uuid.UUID, list[tuple[PharmacyOrderLine, Drug]]] = defaultdict(list)
    for line, drug in rows:
        lines[line.order_id].append((line, drug))
    return lines


async def put_integration(
    session: AsyncSession, store_id: uuid.UUID, webhook_url: str, secret: str, is_active: bool
) -> StoreIntegration:
    """Create or change the store's integration (active or not). The row is made first if
    missing (a concurrent first PUT waits for the other's, then changes it) and changed under
    its lock."""
    values = {"webhook_url": webhook_url, "secret": secret, "is_active": is_active}
    await session.execute(
        insert_ignoring_conflicts(session, StoreIntegration, ["store_id"]).values(
            store_id=store_id, created_at=utcnow(), **values
        )
    )
    row = await session.get(
        StoreIntegration, store_id, with_for_update=True, populate_existing=True
    )
    assert row is not None, "made above or by the request it waited for"
    row.webhook_url, row.secret, row.is_active = webhook_url, secret, is_active
    await session.flush()
    return row
