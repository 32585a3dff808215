"""SQL for up/down referrals, through the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, case, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.kit.pagination import beyond
from app.models import Doctor, Referral, Role


def referral_scope(principal: Principal) -> ColumnElement[bool]:
    """Referrals the caller may see: the patient's own; a doctor's outgoing ones, and those
    sent to their institution."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return Referral.patient_id == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        own_institution = select(Doctor.institution_id).where(Doctor.id == principal.doctor_id)
        return or_(
            Referral.from_doctor_id == principal.doctor_id,
            Referral.to_institution_id.in_(own_institution),
        )
    return false()


async def get_visible(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID, *, lock: bool = False
) -> Referral | None:
    """A referral the caller may see (locked when asked)."""
    statement = select(Referral).where(Referral.id == referral_id, referral_scope(principal))
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    limit: int,
    after: tuple[int, datetime, uuid.UUID] | None = None,
) -> Sequence[Referral]:
    """Referrals the caller may see: priority ones first, then oldest request first (after
    the `after` (rank, requested_at, id) key; rank 0 = priority)."""
    statement = select(Referral).where(referral_scope(principal))
    if status is not None:
        statement = statement.where(Referral.status == status)
    priority_first = case((Referral.priority == "priority", 0), else_=1)
    order = (priority_first, Referral.requested_at, Referral.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=False))
    statement = statement.order_by(*order).limit(limit)
    return (await session.scalars(statement)).all()


async def by_key(
    session: AsyncSession, doctor_id: uuid.UUID, idempotency_key: str
) -> Referral | None:
    """The doctor's referral created with this idempotency key."""
    return await session.scalar(
        select(Referral).where(
            Referral.from_doctor_id == doctor_id, Referral.idempotency_key == idempotency_key
        )
    )
