"""Care endpoints: follow-up plans, due and overdue follow-ups, and up/down referrals."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from app.authz.principal import Principal, require_roles
from app.care import follow_ups as follow_up_service
from app.care import referrals as referral_service
from app.care.follow_ups import PlanView
from app.care.schemas import (
    FollowUpClose,
    FollowUpOut,
    FollowUpPlanCreate,
    FollowUpPlanOut,
    ReferralCreate,
    ReferralDecision,
    ReferralOut,
    ReferralStatus,
)
from app.db import DbSession
from app.idempotency import IdempotencyKey
from app.kit.clock import utcnow
from app.kit.pagination import Page, PageQuery
from app.models import FollowUp, FollowUpPlan, Role

router = APIRouter(prefix="/api/v1/care", tags=["care"])

PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]
DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _follow_up_out(follow_up: FollowUp, plan: FollowUpPlan) -> FollowUpOut:
    return FollowUpOut(
        id=follow_up.id,
        plan_id=follow_up.plan_id,
        patient_id=follow_up.patient_id,
        doctor_id=follow_up.doctor_id,
        sequence=follow_up.sequence,
        due_at=follow_up.due_at,
        status=follow_up.status,
        overdue=follow_up.status == "scheduled" and follow_up.due_at < utcnow(),
        outcome_note=follow_up.outcome_note,
        closed_at=follow_up.closed_at,
        review_items=list(plan.review_items),
    )


def _plan_out(view: PlanView) -> FollowUpPlanOut:
    plan = view.plan
    return FollowUpPlanOut(
        id=plan.id,
        patient_id=plan.patient_id,
        doctor_id=plan.doctor_id,
        discharged_on=plan.discharged_on,
        interval_days=plan.interval_days,
        review_items=list(plan.review_items),
        ends_on=plan.ends_on,
        status=plan.status,
        follow_ups=[_follow_up_out(f, plan) for f in view.follow_ups],
    )


@router.post(
    "/follow-up-plans", response_model=FollowUpPlanOut, status_code=status.HTTP_201_CREATED
)
async def create_plan(
    body: FollowUpPlanCreate, principal: DoctorOnly, session: DbSession
) -> FollowUpPlanOut:
    """Plan follow-ups for a discharged patient in the doctor's care."""
    return _plan_out(await follow_up_service.create_plan(session, principal, body))


@router.get("/follow-up-plans", response_model=Page[FollowUpPlanOut])
async def list_plans(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    patient_id: uuid.UUID | None = None,
) -> Page[FollowUpPlanOut]:
    """Follow-up plans, newest first: the patient's own, or those of a doctor's patients."""
    plans = await follow_up_service.list_plans(session, principal, patient_id)
    return page.page_in_order([_plan_out(v) for v in plans], lambda p: p.id)


@router.post("/follow-up-plans/{plan_id}/end", response_model=FollowUpPlanOut)
async def end_plan(
    plan_id: uuid.UUID, principal: DoctorOnly, session: DbSession
) -> FollowUpPlanOut:
    """End a plan; scheduled follow-ups are cancelled."""
    return _plan_out(await follow_up_service.end_plan(session, principal, plan_id))


@router.get("/follow-ups", response_model=Page[FollowUpOut])
async def list_follow_ups(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    state: Literal["due", "overdue"] = "due",
    within_days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> Page[FollowUpOut]:
    """Due (within `within_days`) or overdue follow-ups, earliest first: a doctor's worklist,
    or a patient's own."""
    resume = page.after(datetime, uuid.UUID)
    rows = await follow_up_service.list_follow_ups(
        session,
        principal,
        state,
        within_days,
        page.limit,
        (resume[0], resume[1]) if resume else None,
    )
    return page.page([_follow_up_out(f, p) for f, p in rows], lambda f: (f.due_at, f.id))


async def _close(
    principal: Principal, session: DbSession, follow_up_id: uuid.UUID, action: str, note: str | None
) -> list[FollowUpOut]:
    closed, following, plan = await follow_up_service.close_follow_up(
        session, principal, follow_up_id, action, note
    )
    return [_follow_up_out(f, plan) for f in (closed, following) if f is not None]


@router.post("/follow-ups/{follow_up_id}/complete", response_model=list[FollowUpOut])
async def complete_follow_up(
    follow_up_id: uuid.UUID, body: FollowUpClose, principal: DoctorOnly, session: DbSession
) -> list[FollowUpOut]:
    """Record a follow-up as done; returns it and the next one scheduled (if any)."""
    return await _close(principal, session, follow_up_id, "complete", body.note)


@router.post("/follow-ups/{follow_up_id}/miss", response_model=list[FollowUpOut])
async def miss_follow_up(
    follow_up_id: uuid.UUID, body: FollowUpClose, principal: DoctorOnly, session: DbSession
) -> list[FollowUpOut]:
    """Record that the patient could not be reached; the next one is scheduled."""
    return await _close(principal, session, follow_up_id, "miss", body.note)


@router.post("/follow-ups/{follow_up_id}/cancel", response_model=list[FollowUpOut])
async def cancel_follow_up(
    follow_up_id: uuid.UUID, body: FollowUpClose, principal: DoctorOnly, session: DbSession
) -> list[FollowUpOut]:
    """Cancel one follow-up (e.g. the patient was readmitted)."""
    return await _close(principal, session, follow_up_id, "cancel", body.note)


@router.post("/referrals", response_model=ReferralOut, status_code=status.HTTP_201_CREATED)
async def create_referral(
    body: ReferralCreate,
    principal: DoctorOnly,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> ReferralOut:
    """Refer a patient in one's care up to a higher-level hospital or down to community care."""
    row = await referral_service.create_referral(session, principal, body, idempotency_key)
    return ReferralOut.model_validate(row)


def _referral_key(r: ReferralOut) -> tuple[int, datetime, uuid.UUID]:
    return (0 if r.priority == "priority" else 1, r.requested_at, r.id)


@router.get("/referrals", response_model=Page[ReferralOut])
async def list_referrals(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    status: ReferralStatus | None = None,
) -> Page[ReferralOut]:
    """Referrals: a patient's own; a doctor's outgoing and their institution's incoming
    (family-doctor referrals first, then oldest request first)."""
    resume = page.after(int, datetime, uuid.UUID)
    rows = await referral_service.list_referrals(
        session,
        principal,
        status,
        page.limit,
        (resume[0], resume[1], resume[2]) if resume else None,
    )
    return page.page([ReferralOut.model_validate(r) for r in rows], _referral_key)


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(
    referral_id: uuid.UUID, principal: PatientOrDoctor, session: DbSession
) -> ReferralOut:
    """One referral the caller may see."""
    return ReferralOut.model_validate(
        await referral_service.get_referral(session, principal, referral_id)
    )


@router.post("/referrals/{referral_id}/{action}", response_model=ReferralOut)
async def act_on_referral(
    referral_id: uuid.UUID,
    action: Literal["accept", "reject", "complete", "cancel"],
    body: ReferralDecision,
    principal: DoctorOnly,
    session: DbSession,
) -> ReferralOut:
    """accept / reject / complete (the receiving institution) or cancel (the referrer)."""
    row = await referral_service.act_on_referral(
        session, principal, referral_id, action, body.reason
    )
    return ReferralOut.model_validate(row)
