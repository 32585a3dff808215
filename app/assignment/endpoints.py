"""Assignment endpoints: online care (start, change doctor, transfer, decisions) and the
consultation queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, status

from app.assignment import consultations as consultation_service
from app.assignment import service as assignment_service
from app.assignment.consultations import QueueStanding
from app.assignment.schemas import (
    AssignmentOut,
    ConsultationCreate,
    ConsultationOut,
    DecisionOut,
    DoctorChange,
    OnlineCareStart,
    TransferCreate,
)
from app.assignment.service import AssignmentOutcome
from app.authz.principal import Principal, require_roles
from app.care.schemas import CareRelationshipOut
from app.db import DbSession
from app.idempotency import IdempotencyKey
from app.kit.pagination import Page, PageQuery
from app.models import Role

router = APIRouter(prefix="/api/v1", tags=["assignment"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]


def _assignment_out(outcome: AssignmentOutcome) -> AssignmentOut:
    return AssignmentOut(
        relationship=CareRelationshipOut.model_validate(outcome.relationship),
        decision=DecisionOut.model_validate(outcome.decision) if outcome.decision else None,
        created=outcome.created,
    )


def _consultation_out(entry: QueueStanding) -> ConsultationOut:
    r = entry.request
    return ConsultationOut(
        id=r.id,
        patient_id=r.patient_id,
        doctor_id=r.doctor_id,
        status=r.status,
        urgency_level=r.urgency_level,
        reason=r.reason,
        requested_at=r.requested_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        handoffs=r.handoffs,
        decision_id=r.decision_id,
        position=entry.position,
        ahead=entry.ahead,
        estimated_wait_seconds=entry.estimated_wait_seconds,
        estimate_basis=entry.basis,
        estimate_samples=entry.samples,
        doctor_presence=entry.doctor_presence,
        doctor_back_at=entry.doctor_back_at,
    )


@router.post("/online-care/start", response_model=AssignmentOut)
async def start_online_care(
    body: OnlineCareStart, request: Request, principal: PatientOnly, session: DbSession
) -> AssignmentOut:
    """Start online care: the engine assigns the entitled patient's receiving doctor (a patient
    who already has one gets it back)."""
    outcome = await assignment_service.start_online_care(
        session, principal, request.app.state.settings, body.institution_id
    )
    return _assignment_out(outcome)


@router.post("/online-care/change-doctor", response_model=AssignmentOut)
async def change_doctor(
    body: DoctorChange, request: Request, principal: PatientOnly, session: DbSession
) -> AssignmentOut:
    """Ask for a different receiving doctor."""
    outcome = await assignment_service.change_doctor(
        session,
        principal,
        request.app.state.settings,
        body.institution_id,
        body.reason,
        body.from_relationship_id,
    )
    return _assignment_out(outcome)


@router.post("/online-care/transfers", response_model=AssignmentOut)
async def transfer_patient(
    body: TransferCreate, request: Request, principal: DoctorOnly, session: DbSession
) -> AssignmentOut:
    """The receiving doctor refers the patient to a colleague (named or chosen by the engine)."""
    outcome = await assignment_service.transfer_patient(
        session,
        principal,
        request.app.state.settings,
        body.patient_id,
        body.to_doctor_id,
        body.reason,
    )
    return _assignment_out(outcome)


@router.get("/online-care/decisions", response_model=Page[DecisionOut])
async def list_decisions(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    patient_id: uuid.UUID | None = None,
) -> Page[DecisionOut]:
    """Assignment decisions with their score breakdowns (one's own, or one's patients'),
    newest first."""
    resume = page.after(datetime, uuid.UUID)
    rows = await assignment_service.list_decisions(
        session, principal, patient_id, page.limit, (resume[0], resume[1]) if resume else None
    )
    items = [DecisionOut.model_validate(d) for d in rows]
    return page.page(items, lambda d: (d.decided_at, d.id))


@router.get("/online-care/decisions/{decision_id}", response_model=DecisionOut)
async def get_decision(
    decision_id: uuid.UUID, principal: PatientOrDoctor, session: DbSession
) -> DecisionOut:
    """One decision and why it was taken."""
    return DecisionOut.model_validate(
        await assignment_service.get_decision(session, principal, decision_id)
    )


@router.post("/consultations", response_model=ConsultationOut, status_code=status.HTTP_201_CREATED)
async def request_consultation(
    body: ConsultationCreate,
    request: Request,
    principal: PatientOnly,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> ConsultationOut:
    """Ask to be seen: join a doctor's queue (urgent first, then by waiting time)."""
    entry = await consultation_service.request_consultation(
        session,
        principal,
        request.app.state.settings,
        request.app.state.hub,
        body.reason,
        idempotency_key,
    )
    return _consultation_out(entry)


@router.get("/consultations/queue", response_model=Page[ConsultationOut])
async def my_queue(
    request: Request, principal: DoctorOnly, session: DbSession, page: PageQuery
) -> Page[ConsultationOut]:
    """The calling doctor's waiting patients, in the order they will be seen."""
    entries = await consultation_service.doctor_queue(
        session, principal, request.app.state.settings
    )
    items = [_consultation_out(e) for e in entries]
    return page.page_of_all(items, lambda c: (c.ahead, c.id), int, uuid.UUID)


@router.get("/consultations/{request_id}", response_model=ConsultationOut)
async def get_consultation(
    request_id: uuid.UUID, request: Request, principal: PatientOrDoctor, session: DbSession
) -> ConsultationOut:
    """A request with its position and estimated wait."""
    entry = await consultation_service.get_standing(
        session, principal, request.app.state.settings, request.app.state.hub, request_id
    )
    return _consultation_out(entry)


@router.post("/consultations/{request_id}/{action}", response_model=ConsultationOut)
async def act_on_consultation(
    request_id: uuid.UUID,
    action: Literal["start", "complete", "cancel"],
    request: Request,
    principal: PatientOrDoctor,
    session: DbSession,
) -> ConsultationOut:
    """start / complete (the assigned doctor) or cancel (the patient, while waiting)."""
    entry = await consultation_service.act(
        session,
        principal,
        request.app.state.settings,
        request.app.state.hub,
        request_id,
        action,
    )
    return _consultation_out(entry)
