"""Patient endpoints: the patient's own profile and access log; doctors' view of their patients."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from app.audit import service as audit_service
from app.audit.schemas import AccessLogEntry, AccessLogPage
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.kit.bounded import NonNegativeInt64
from app.kit.pagination import PageQuery
from app.models import Role
from app.patient import service as patient_service
from app.patient.schemas import PatientOut, PatientPage, PatientUpdate

router = APIRouter(prefix="/api/v1/patients", tags=["patients"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]


@router.get("/me", response_model=PatientOut)
async def get_my_profile(principal: PatientOnly, session: DbSession) -> PatientOut:
    """The signed-in patient's own profile, identifiers in full."""
    assert principal.patient_id is not None
    patient = await patient_service.get_patient(session, principal, principal.patient_id)
    return PatientOut.from_patient(patient, reveal=True)


@router.put("/me", response_model=PatientOut, operation_id="update_my_profile_put")
@router.patch("/me", response_model=PatientOut)
async def update_my_profile(
    body: PatientUpdate, principal: PatientOnly, session: DbSession
) -> PatientOut:
    """Complete or correct the patient's own profile (not the insured identity). PUT is the
    same for the mini-program, whose wx.request has no PATCH."""
    patient = await patient_service.update_own_profile(session, principal, body)
    return PatientOut.from_patient(patient, reveal=True)


@router.get("/me/access-log", response_model=AccessLogPage)
async def get_my_access_log(
    principal: PatientOnly,
    session: DbSession,
    page: PageQuery,
) -> AccessLogPage:
    """Who read or changed my records, newest first."""
    assert principal.patient_id is not None
    after = page.after(NonNegativeInt64)
    events = await audit_service.access_log(
        session, principal.patient_id, after[0] if after else None, page.limit
    )
    items = [AccessLogEntry.model_validate(e) for e in events]
    return page.page_as(AccessLogPage, items, lambda e: (e.id,))


@router.get("", response_model=PatientPage)
async def list_patients(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
) -> PatientPage:
    """Patients the caller may see, by id: a doctor's patients in active care, or oneself."""
    after = page.after(uuid.UUID)
    patients = await patient_service.list_patients(
        session, principal, after[0] if after else None, page.limit
    )
    items = [PatientOut.from_patient(p, reveal=p.id == principal.patient_id) for p in patients]
    return page.page_as(PatientPage, items, lambda p: (p.id,))


@router.get("/{patient_id}", response_model=PatientOut)
async def get_patient(
    patient_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> PatientOut:
    """One patient's profile, if the caller may see them (else 404)."""
    patient = await patient_service.get_patient(session, principal, patient_id)
    return PatientOut.from_patient(patient, reveal=patient.id == principal.patient_id)
