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

from app.models import (
    ColdChainReading,
    DeliveryLocation,
    DispensedBox,
    OrderTransition,
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
            ColdChainReading.order_id.in_(order_ids),
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
        .where(TraceabilityEvent.order_id.in_(order_ids))
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
