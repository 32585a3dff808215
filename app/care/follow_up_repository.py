"""SQL for follow-up plans and follow-ups, always through the caller's patient scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.kit.pagination import beyond
from app.models import FollowUp, FollowUpPlan


async def get_plan(
    session: AsyncSession, principal: Principal, plan_id: uuid.UUID, now: datetime
) -> FollowUpPlan | None:
    """A plan whose patient the caller may see, locked for update."""
    return await session.scalar(
        select(FollowUpPlan)
        .where(FollowUpPlan.id == plan_id, patient_scope(principal, FollowUpPlan.patient_id, now))
        .with_for_update()
    )


async def list_plans(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID | None, now: datetime
) -> Sequence[FollowUpPlan]:
    """Plans of patients the caller may see (optionally one patient), newest first."""
    statement = select(FollowUpPlan).where(patient_scope(principal, FollowUpPlan.patient_id, now))
    if patient_id is not None:
        statement = statement.where(FollowUpPlan.patient_id == patient_id)
    return (await session.scalars(statement.order_by(FollowUpPlan.created_at.desc()))).all()


async def get_follow_up(
    session: AsyncSession, principal: Principal, follow_up_id: uuid.UUID, now: datetime
) -> FollowUp | None:
    """A follow-up whose patient the caller may see, locked for update."""
    return await session.scalar(
        select(FollowUp)
        .where(FollowUp.id == follow_up_id, patient_scope(principal, FollowUp.patient_id, now))
        .with_for_update()
    )


async def list_scheduled(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    due_before: datetime,
    due_after: datetime | None,
    doctor_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[FollowUp]:
    """Scheduled follow-ups due in [due_after, due_before), earliest first, in scope (after
    the `after` (due_at, id) key)."""
    statement = select(FollowUp).where(
        FollowUp.status == "scheduled",
        FollowUp.due_at < due_before,
        patient_scope(principal, FollowUp.patient_id, now),
    )
    if due_after is not None:
        statement = statement.where(FollowUp.due_at >= due_after)
    if doctor_id is not None:
        statement = statement.where(FollowUp.doctor_id == doctor_id)
    order = (FollowUp.due_at, FollowUp.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=False))
    return (await session.scalars(statement.order_by(*order).limit(limit))).all()


async def scheduled_of_plan(session: AsyncSession, plan_id: uuid.UUID) -> Sequence[FollowUp]:
    """A plan's follow-ups still scheduled."""
    rows = await session.scalars(
        select(FollowUp).where(FollowUp.plan_id == plan_id, FollowUp.status == "scheduled")
    )
    return rows.all()


async def follow_ups_of_plans(
    session: AsyncSession, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[FollowUp]]:
    """Every follow-up of these plans, in order."""
    found: dict[uuid.UUID, list[FollowUp]] = {p: [] for p in plan_ids}
    if not plan_ids:
        return found
    rows = await session.scalars(
        select(FollowUp).where(FollowUp.plan_id.in_(list(plan_ids))).order_by(FollowUp.sequence)
    )
    for row in rows:
        found[row.plan_id].append(row)
    return found


async def plans_by_id(
    session: AsyncSession, plan_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FollowUpPlan]:
    """Plans by id (no scope: for rows already scoped)."""
    if not plan_ids:
        return {}
    rows = await session.scalars(select(FollowUpPlan).where(FollowUpPlan.id.in_(list(plan_ids))))
    return {row.id: row for row in rows}


async def due_for_reminder(
    session: AsyncSession, remind_before: datetime, limit: int
) -> Sequence[FollowUp]:
    """Scheduled, not yet reminded follow-ups due before `remind_before` (locked, skipping
    rows another sweeper holds)."""
    rows = await session.scalars(
        select(FollowUp)
        .where(
            FollowUp.status == "scheduled",
            FollowUp.reminded_at.is_(None),
            FollowUp.due_at < remind_before,
        )
        .order_by(FollowUp.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return rows.all()


async def mark_reminded(
    session: AsyncSession, follow_up_ids: Sequence[uuid.UUID], now: datetime
) -> None:
    """Record that reminders were enqueued."""
    if follow_up_ids:
        await session.execute(
            update(FollowUp).where(FollowUp.id.in_(list(follow_up_ids))).values(reminded_at=now)
        )
