"""SQL of the delivery records: hand-over time, the cold-chain log, courier positions and the
append-only history of every box (scanned, released, returned)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import one_of
from app.models import (
    Account,
    ColdChainReading,
    DeliveryLocation,
    DispensedBox,
    Drug,
    OrderTransition,
    Patient,
    PharmacyOrderLine,
    PharmacyStaff,
    PrescriptionItem,
    Role,
    TraceabilityEvent,
)


async def handed_over_at(session: AsyncSession, order_id: uuid.UUID) -> datetime | None:
    """When the order was handed over to the patient (None if it has not been)."""
    return await session.scalar(
        select(OrderTransition.at)
        .where(OrderTransition.order_id == order_id, OrderTransition.to_status == "delivered")
        .order_by(OrderTransition.id.desc())
        .limit(1)
    )


async def reading_times(session: AsyncSession, order_id: uuid.UUID) -> set[datetime]:
    """Measurement times already in the order's cold-chain log."""
    rows = await session.scalars(
        select(ColdChainReading.measured_at).where(ColdChainReading.order_id == order_id)
    )
    return set(rows)


async def in_transit_readings(
    session: AsyncSession, order_id: uuid.UUID
) -> Sequence[ColdChainReading]:
    """The cold-chain log as it stood in transit (readings that arrived late decide nothing)."""
    return (
        await session.scalars(
            select(ColdChainReading).where(
                ColdChainReading.order_id == order_id, ColdChainReading.late.is_(False)
            )
        )
    ).all()


async def orders_with_late_excursion(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Orders whose log, received after hand-over, shows the parcel left 2-8 C in transit."""
    rows = await session.scalars(
        select(ColdChainReading.order_id)
        .where(
            one_of(session, ColdChainReading.order_id, order_ids),
            ColdChainReading.late.is_(True),
            ColdChainReading.in_range.is_(False),
        )
        .distinct()
    )
    return set(rows)


async def location_recorded(session: AsyncSession, order_id: uuid.UUID, key: str) -> bool:
    """Whether a courier position with this Idempotency-Key is already recorded."""
    found = await session.scalar(
        select(DeliveryLocation.id).where(
            DeliveryLocation.order_id == order_id, DeliveryLocation.idempotency_key == key
        )
    )
    return found is not None


async def add_box_events(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Append facts about boxes (one executemany round trip)."""
    if rows:
        await session.execute(insert(TraceabilityEvent), list(rows))


async def release_boxes(session: AsyncSession, order_id: uuid.UUID) -> Sequence[DispensedBox]:
    """Take the order's boxes off its sale (they may be sold again); the released rows."""
    boxes = (
        await session.scalars(select(DispensedBox).where(DispensedBox.order_id == order_id))
    ).all()
    if boxes:
        await session.execute(
            delete(DispensedBox)
            .where(DispensedBox.order_id == order_id)
            .execution_options(synchronize_session=False)
        )
        for box in boxes:
            session.expunge(box)
    return boxes


async def box_events_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TraceabilityEvent]]:
    """Each order's box history, oldest first."""
    history: dict[uuid.UUID, list[TraceabilityEvent]] = defaultdict(list)
    for event in await session.scalars(
        select(TraceabilityEvent)
        .where(one_of(session, TraceabilityEvent.order_id, order_ids))
        .order_by(TraceabilityEvent.id)
    ):
        history[event.order_id].append(event)
    return history


async def returned_codes(session: AsyncSession, order_id: uuid.UUID) -> set[str]:
    """Codes of the order's boxes that have come back in a quality return."""
    rows = await session.scalars(
        select(TraceabilityEvent.code).where(
            TraceabilityEvent.order_id == order_id, TraceabilityEvent.event == "returned"
        )
    )
    return set(rows)


async def transition_made(session: AsyncSession, order_id: uuid.UUID, key: str) -> bool:
    """Whether a transition with this Idempotency-Key was already made on the order."""
    found = await session.scalar(
        select(OrderTransition.id).where(
            OrderTransition.order_id == order_id, OrderTransition.idempotency_key == key
        )
    )
    return found is not None


async def is_courier_of_store(
    session: AsyncSession, store_id: uuid.UUID, account_id: uuid.UUID
) -> bool:
    """Whether the account is an active courier on the store's staff."""
    found = await session.scalar(
        select(Account.id)
        .join(PharmacyStaff, PharmacyStaff.account_id == Account.id)
        .where(
            Account.id == account_id,
            Account.role == Role.courier,
            Account.is_active.is_(True),
            PharmacyStaff.store_id == store_id,
        )
    )
    return found is not None


async def patient_account(session: AsyncSession, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The account the order's patient signs in with (who is told of the order's changes)."""
    return await session.scalar(select(Patient.account_id).where(Patient.id == patient_id))


async def claim_lines(
    session: AsyncSession, order_id: uuid.UUID
) -> Sequence[tuple[PharmacyOrderLine, int, Drug]]:
    """The order's lines with the unit price its prescription fixed and the drug, in the
    prescription's line order."""
    rows = await session.execute(
        select(PharmacyOrderLine, PrescriptionItem.unit_price_fen, Drug)
        .join(PrescriptionItem, PrescriptionItem.id == PharmacyOrderLine.prescription_item_id)
        .join(Drug, Drug.id == PharmacyOrderLine.drug_id)
        .where(PharmacyOrderLine.order_id == order_id)
        .order_by(PrescriptionItem.line_no)
    )
    return [(line, int(price), drug) for line, price, drug in rows]
