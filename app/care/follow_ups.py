"""Follow-up plans for discharged patients: one scheduled follow-up at a time, the next
scheduled when it closes; due and overdue lists; reminders to patients through the outbox.

Follow-up states and their legal transitions live in TRANSITIONS; anything else is 409.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import follow_up_repository
from app.care import relationships as relationship_service
from app.care import repository as care_repository
from app.care.schemas import FollowUpPlanCreate
from app.errors import Conflict, NotFound
from app.kit.clock import SHANGHAI, to_shanghai, utcnow
from app.models import FollowUp, FollowUpPlan
from app.outbox.push import PushNotification, queue_push

PLAN_RESOURCE = "follow_up_plan"
FOLLOW_UP_RESOURCE = "follow_up"

# status -> {action: next status}; completed, missed and cancelled are final.
TRANSITIONS: dict[str, dict[str, str]] = {
    "scheduled": {"complete": "completed", "miss": "missed", "cancel": "cancelled"},
}
# Follow-ups are due in the morning clinic of their day (city time).
DUE_CLOCK = time(9, 0)
REMINDER_BATCH = 500


@dataclass(frozen=True)
class PlanView:
    plan: FollowUpPlan
    follow_ups: list[FollowUp]


def due_moment(on: date) -> datetime:
    """When a follow-up on city date `on` is due."""
    return datetime.combine(on, DUE_CLOCK, tzinfo=SHANGHAI)


def _next_due(plan: FollowUpPlan, sequence: int) -> datetime | None:
    on = plan.discharged_on + timedelta(days=plan.interval_days * sequence)
    if plan.ends_on is not None and on > plan.ends_on:
        return None
    return due_moment(on)


def _schedule(plan: FollowUpPlan, sequence: int) -> FollowUp | None:
    due = _next_due(plan, sequence)
    if due is None:
        return None
    return FollowUp(
        plan_id=plan.id,
        patient_id=plan.patient_id,
        doctor_id=plan.doctor_id,
        sequence=sequence,
        due_at=due,
        status="scheduled",
    )


async def create_plan(
    session: AsyncSession, principal: Principal, body: FollowUpPlanCreate
) -> PlanView:
    """A plan for a patient in the doctor's care, with its first follow-up scheduled."""
    assert principal.doctor_id is not None
    await relationship_service.require_in_care(session, principal, body.patient_id)
    plan = FollowUpPlan(
        patient_id=body.patient_id,
        doctor_id=principal.doctor_id,
        discharged_on=body.discharged_on,
        interval_days=body.interval_days,
        review_items=body.review_items,
        ends_on=body.ends_on,
        status="active",
    )
    session.add(plan)
    await session.flush()
    first = _schedule(plan, 1)
    if first is not None:
        session.add(first)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, PLAN_RESOURCE, plan.id, plan.patient_id
    )
    return PlanView(plan, [first] if first is not None else [])


async def list_plans(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID | None
) -> list[PlanView]:
    """Plans of the caller's patients (or the patient's own), with their follow-ups; audited."""
    plans = list(await follow_up_repository.list_plans(session, principal, patient_id, utcnow()))
    follow_ups = await follow_up_repository.follow_ups_of_plans(session, [p.id for p in plans])
    await audit_service.record_many(
        session, principal, AuditAction.read, PLAN_RESOURCE, [(p.id, p.patient_id) for p in plans]
    )
    return [PlanView(p, follow_ups[p.id]) for p in plans]


async def end_plan(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> PlanView:
    """End a plan; what is still scheduled is cancelled."""
    now = utcnow()
    plan = await follow_up_repository.get_plan(session, principal, plan_id, now)
    if plan is None:
        raise NotFound()
    if plan.status == "ended":
        raise Conflict("plan_already_ended")
    plan.status = "ended"
    for follow_up in await follow_up_repository.scheduled_of_plan(session, plan.id):
        follow_up.status = "cancelled"
        follow_up.closed_at = now
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.update, PLAN_RESOURCE, plan.id, plan.patient_id
    )
    follow_ups = await follow_up_repository.follow_ups_of_plans(session, [plan.id])
    return PlanView(plan, follow_ups[plan.id])


async def close_follow_up(
    session: AsyncSession,
    principal: Principal,
    follow_up_id: uuid.UUID,
    action: str,
    note: str | None,
) -> tuple[FollowUp, FollowUp | None, FollowUpPlan]:
    """Complete, miss or cancel a scheduled follow-up; completing or missing one schedules the
    next of an active plan. Returns the closed one, the next (if any) and their plan."""
    now = utcnow()
    follow_up = await follow_up_repository.get_follow_up(session, principal, follow_up_id, now)
    if follow_up is None:
        raise NotFound()
    target = TRANSITIONS.get(follow_up.status, {}).get(action)
    if target is None:
        raise Conflict("follow_up_transition_illegal", current=follow_up.status, action=action)
    follow_up.status = target
    follow_up.closed_at = now
    follow_up.outcome_note = note
    following = None
    plan = (await follow_up_repository.plans_by_id(session, [follow_up.plan_id]))[follow_up.plan_id]
    if target in ("completed", "missed") and plan.status == "active":
        following = _schedule(plan, follow_up.sequence + 1)
        if following is not None:
            session.add(following)
    await session.flush()
    await audit_service.record(
        session,
        principal,
        AuditAction.update,
        FOLLOW_UP_RESOURCE,
        follow_up.id,
        follow_up.patient_id,
    )
    return follow_up, following, plan


async def list_follow_ups(
    session: AsyncSession,
    principal: Principal,
    state: str,
    within_days: int,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[tuple[FollowUp, FollowUpPlan]]:
    """Scheduled follow-ups: `overdue` (past due) or `due` (due within `within_days`); a
    doctor's own, or a patient's. Audited."""
    now = utcnow()
    if state == "overdue":
        due_before, due_after = now, None
    else:
        due_before, due_after = now + timedelta(days=within_days), now
    rows = list(
        await follow_up_repository.list_scheduled(
            session, principal, now, due_before, due_after, principal.doctor_id, limit, after
        )
    )
    plans = await follow_up_repository.plans_by_id(session, list({f.plan_id for f in rows}))
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        FOLLOW_UP_RESOURCE,
        [(f.id, f.patient_id) for f in rows],
    )
    return [(f, plans[f.plan_id]) for f in rows]


async def enqueue_due_reminders(session: AsyncSession, lead: timedelta) -> int:
    """Enqueue a push reminder for every scheduled follow-up due within `lead` that has none
    yet (idempotent per follow-up); how many were enqueued."""
    now = utcnow()
    due = list(await follow_up_repository.due_for_reminder(session, now + lead, REMINDER_BATCH))
    plans = await follow_up_repository.plans_by_id(session, list({f.plan_id for f in due}))
    for follow_up in due:
        account_id = await care_repository.patient_account_id(session, follow_up.patient_id)
        if account_id is None:
            continue
        await queue_push(
            session,
            PushNotification(
                recipient=str(account_id),
                template="follow_up_reminder",
                data={
                    "follow_up_id": str(follow_up.id),
                    "due_at": to_shanghai(follow_up.due_at).isoformat(),
                    "review_items": plans[follow_up.plan_id].review_items,
                },
                page=f"pages/care/follow-up?id={follow_up.id}",
            ),
            f"follow-up-reminder:{follow_up.id}",
        )
    await follow_up_repository.mark_reminded(session, [f.id for f in due], now)
    return len(due)
