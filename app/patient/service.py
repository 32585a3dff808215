"""Rules for reading and updating patient profiles (scoped, audited, identifiers protected)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import NotFound
from app.kit.repository import by_id
from app.models import Account, District, Patient
from app.patient import repository as patient_repository
from app.patient.schemas import PatientUpdate

RESOURCE = "patient"


async def get_patient(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> Patient:
    """A patient the caller may see (audited); anything else is 404."""
    patient = await patient_repository.get_visible(session, principal, patient_id)
    if patient is None:
        raise NotFound()
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, patient.id, patient.id
    )
    return patient


async def list_patients(
    session: AsyncSession, principal: Principal, after_id: uuid.UUID | None, limit: int
) -> Sequence[Patient]:
    """The caller's patients (a doctor's care list, or a patient's own record), audited."""
    patients = await patient_repository.list_visible(session, principal, after_id, limit)
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(p.id, p.id) for p in patients]
    )
    return patients


async def update_own_profile(
    session: AsyncSession, principal: Principal, changes: PatientUpdate
) -> Patient:
    """Apply a patient's edits to their own profile (never their insured identity)."""
    assert principal.patient_id is not None
    patient = await get_patient(session, principal, principal.patient_id)
    fields = changes.model_dump(exclude_unset=True)
    district_code = fields.get("district_code")
    if district_code is not None and await by_id(session, District, district_code) is None:
        raise NotFound("district_not_found")
    display_name = fields.pop("display_name", None)
    if display_name is not None:
        account = await by_id(session, Account, principal.account_id)
        assert account is not None
        account.display_name = display_name
    for name, value in fields.items():
        setattr(patient, name, value)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.update, RESOURCE, patient.id, patient.id
    )
    return patient
