"""SQL of quality returns, always through the caller's scope: a patient their own returns, a
store pharmacist their store's."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.kit.pagination import beyond
from app.models import (
    DispensedBox,
    PaymentRefund,
    QualityReturn,
    QualityReturnTransition,
    Role,
    Settlement,
    TraceabilityEvent,
)
from app.models.quality_return import QUALITY_RETURN_LIVE

V = TypeVar("V")


def return_scope(principal: Principal) -> ColumnElement[bool]:
    """Returns the caller may see."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return QualityReturn.patient_id == principal.patient_id
    if principal.role == Role.pharmacist and principal.store_id is not None:
        return QualityReturn.store_id == principal.store_id
    return false()


async def get_visible(
    session: AsyncSession, principal: Principal, return_id: uuid.UUID, *, lock: bool = False
) -> QualityReturn | None:
    """The return if the caller may see it (row-locked for a change when `lock`)."""
    statement = select(QualityReturn).where(QualityReturn.id == return_id, return_scope(principal))
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    statuses: Sequence[str],
    order_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[QualityReturn]:
    """The caller's returns, newest first (after the `after` (created_at, id) key)."""
    statement = select(QualityReturn).where(return_scope(principal))
    if statuses:
        statement = statement.where(QualityReturn.status.in_(statuses))
    if order_id is not None:
        statement = statement.where(QualityReturn.order_id == order_id)
    order = (QualityReturn.created_at, QualityReturn.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    statement = statement.order_by(*(c.desc() for c in order)).limit(limit)
    return (await session.scalars(statement)).all()


async def by_key(session: AsyncSession, order_id: uuid.UUID, key: str) -> QualityReturn | None:
    """The return already opened on this order with this Idempotency-Key."""
    return await session.scalar(
        select(QualityReturn).where(
            QualityReturn.order_id == order_id, QualityReturn.idempotency_key == key
        )
    )


async def live_of_order(session: AsyncSession, order_id: uuid.UUID) -> QualityReturn | None:
    """The order's open or completed return, if it has one."""
    return await session.scalar(
        select(QualityReturn).where(
            QualityReturn.order_id == order_id, QualityReturn.status.in_(QUALITY_RETURN_LIVE)
        )
    )


async def transition_with_key(
    session: AsyncSession, return_id: uuid.UUID, key: str
) -> QualityReturnTransition | None:
    """The step already taken on this return with this Idempotency-Key."""
    return await session.scalar(
        select(QualityReturnTransition).where(
            QualityReturnTransition.return_id == return_id,
            QualityReturnTransition.idempotency_key == key,
        )
    )


def _grouped(keys: Sequence[uuid.UUID], pairs: Iterable[tuple[Any, V]]) -> dict[uuid.UUID, list[V]]:
    """`(key, value)` pairs as lists by key, in their order; every key present."""
    grouped: dict[uuid.UUID, list[V]] = {key: [] for key in keys}
    for key, value in pairs:
        grouped[key].append(value)
    return grouped


async def history_of(
    session: AsyncSession, return_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[QualityReturnTransition]]:
    """Each return's steps, oldest first."""
    rows = await session.scalars(
        select(QualityReturnTransition)
        .where(QualityReturnTransition.return_id.in_(return_ids))
        .order_by(QualityReturnTransition.id)
    )
    return _grouped(return_ids, ((row.return_id, row) for row in rows))


async def sold_codes_of(
    session: AsyncSession, order_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The traceability codes sold on each order (the boxes a return must bring back)."""
    rows = await session.execute(
        select(DispensedBox.order_id, DispensedBox.code)
        .where(DispensedBox.order_id.in_(order_ids))
        .order_by(DispensedBox.code)
    )
    return _grouped(order_ids, ((order_id, code) for order_id, code in rows))


async def sold_boxes(session: AsyncSession, order_id: uuid.UUID) -> Sequence[DispensedBox]:
    """The boxes sold on the order."""
    return (
        await session.scalars(select(DispensedBox).where(DispensedBox.order_id == order_id))
    ).all()


async def codes_returned_with(
    session: AsyncSession, return_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The codes checked back in with each return."""
    rows = await session.execute(
        select(TraceabilityEvent.return_id, TraceabilityEvent.code)
        .where(TraceabilityEvent.return_id.in_(return_ids), TraceabilityEvent.event == "returned")
        .order_by(TraceabilityEvent.code)
    )
    return _grouped(return_ids, ((return_id, code) for return_id, code in rows))


async def reversals_by_id(
    session: AsyncSession, reversal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Settlement]:
    """Reversal settlements by id."""
    if not reversal_ids:
        return {}
    rows = await session.scalars(select(Settlement).where(Settlement.id.in_(reversal_ids)))
    return {row.id: row for row in rows}


async def refunds_of_reversals(
    session: AsyncSession, reversal_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PaymentRefund]]:
    """The refunds the payment path made for each reversal."""
    rows = await session.scalars(
        select(PaymentRefund)
        .where(PaymentRefund.reversal_id.in_(reversal_ids))
        .order_by(PaymentRefund.created_at, PaymentRefund.id)
    )
    return _grouped(reversal_ids, ((row.reversal_id, row) for row in rows))
