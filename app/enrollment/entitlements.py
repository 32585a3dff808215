"""Entitlement rules other domains rely on: who may start online care, who may be prescribed."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.catalogue import service as catalogue_service
from app.enrollment import repository as enrollment_repository
from app.errors import Conflict, NotFound
from app.kit.clock import city_date
from app.models import ChronicDisease, Entitlement, Role
from app.patient import service as patient_service

ENTITLEMENT_RESOURCE = "entitlement"


@dataclass(frozen=True)
class EntitlementView:
    """An entitlement with its disease and whether it is valid on the day asked about."""

    entitlement: Entitlement
    disease: ChronicDisease
    active: bool


@dataclass(frozen=True)
class OnlineCare:
    """What the patient may be cared for online, and since when they have been ill."""

    diseases: list[ChronicDisease]
    # The earliest year of diagnosis of those diseases, if their applications record one.
    first_diagnosed_year: int | None


async def online_care(session: AsyncSession, patient_id: uuid.UUID, on: date) -> OnlineCare:
    """The diseases the patient may be cared for online on `on` (valid entitlement for a
    disease the catalogue in force admits online) and the earliest year any was diagnosed;
    409 not_entitled / entitlement_expired."""
    admitted = await enrollment_repository.online_admitted_active_diseases(session, patient_id, on)
    if not admitted:
        # "Expired" only when an entitlement for an online-admitted disease has run out.
        lapsed = await enrollment_repository.entitlements_of(session, patient_id)
        lapsed_online = await catalogue_service.online_admitted_disease_ids(
            session, [e.disease_id for e in lapsed if e.valid_until < on], on
        )
        raise Conflict("entitlement_expired" if lapsed_online else "not_entitled")
    years = [year for _, year in admitted if year is not None]
    return OnlineCare(
        diseases=sorted((d for d, _ in admitted), key=lambda d: d.code),
        first_diagnosed_year=min(years) if years else None,
    )


async def ensure_may_prescribe(
    session: AsyncSession, patient_id: uuid.UUID, disease_id: uuid.UUID, on: date
) -> Entitlement:
    """The entitlement a new prescription for the disease rests on; an expired or missing one
    is 409 (entitlement_expired / not_entitled)."""
    for entitlement in await enrollment_repository.active_entitlements(session, patient_id, on):
        if entitlement.disease_id == disease_id:
            return entitlement
    ever = await enrollment_repository.entitlements_of(session, patient_id)
    raise Conflict(
        "entitlement_expired" if any(e.disease_id == disease_id for e in ever) else "not_entitled"
    )


async def list_entitlements(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> list[EntitlementView]:
    """A patient's entitlements for themselves or their doctors (else 404); audited."""
    if principal.role == Role.patient and principal.patient_id != patient_id:
        raise NotFound()
    await patient_service.get_patient(session, principal, patient_id)
    rows: Sequence[Entitlement] = await enrollment_repository.entitlements_of(session, patient_id)
    diseases = await enrollment_repository.diseases_by_id(session, [e.disease_id for e in rows])
    today = city_date()
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        ENTITLEMENT_RESOURCE,
        [(e.id, patient_id) for e in rows],
    )
    return [view_of(e, diseases[e.disease_id], today) for e in rows]


def view_of(entitlement: Entitlement, disease: ChronicDisease, today: date) -> EntitlementView:
    """An entitlement as shown on `today`."""
    active = entitlement.valid_from <= today <= entitlement.valid_until
    return EntitlementView(entitlement, disease, active)
