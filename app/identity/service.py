"""Insured identity rules: declarations, verification, binding to entitlements, and the check
every settlement makes ("two independent sources, compared, or no settlement").

- A patient *declares*; a declaration never moves money on its own. Declaring a number another
  patient holds answers exactly like any other declaration (no oracle for ID numbers) and is
  queued for staff review; declarations are rate-limited per patient.
- An authoritative source *verifies* (`sources.PersonRecord`: a bureau clerk's attestation now,
  the platform's person query later). Each verification is a new, audited record superseding
  the previous one, and re-binds the patient's unexpired entitlements.
- Settlement uses the identity bound to the claim's entitlement, and only while the patient's
  latest declaration agrees with it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

import app.identity.messages  # noqa: F401 - registers the error texts
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.errors import Conflict, NotFound, TooManyRequests
from app.identity import repository as identity_repository
from app.identity.schemas import DeclarationCreate
from app.identity.sources import InsuredIdentitySource, PersonRecord
from app.kit.clock import city_date, utcnow
from app.kit.crypto import blind_index
from app.kit.repository import by_id
from app.kit.sql import add_unique
from app.models import (
    Entitlement,
    EntitlementIdentity,
    IdentityDeclaration,
    InsuredIdentity,
    Patient,
)

DECLARATION_RESOURCE = "identity_declaration"
IDENTITY_RESOURCE = "insured_identity"
ENTITLEMENT_RESOURCE = "entitlement"


async def _locked_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    patient = await identity_repository.lock_patient(session, patient_id)
    if patient is None:
        raise NotFound()
    return patient


async def declare(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: DeclarationCreate,
    idempotency_key: str | None,
) -> IdentityDeclaration:
    """Record the patient's declaration (a retried key returns the first); the same answer
    whether or not another patient holds the number; 429 beyond the per-patient rate."""
    assert principal.patient_id is not None
    patient = await _locked_patient(session, principal.patient_id)
    if idempotency_key is not None:
        existing = await identity_repository.declaration_by_key(
            session, patient.id, idempotency_key
        )
        if existing is not None:
            return existing
    now = utcnow()
    window = timedelta(seconds=settings.identity_declaration_window_seconds)
    recent = await identity_repository.declaration_times_since(session, patient.id, now - window)
    if len(recent) >= settings.identity_declarations_per_window:
        oldest = recent[len(recent) - settings.identity_declarations_per_window]
        wait = (oldest + window - now).total_seconds()
        raise TooManyRequests("identity_declarations_too_many", retry_after=int(wait) + 1)
    index = blind_index(session, body.national_id)
    row = IdentityDeclaration(
        patient_id=patient.id,
        national_id=body.national_id.upper(),
        national_id_index=index,
        insurance_type=body.insurance_type,
        insured_area=body.insured_area,
        declared_at=now,
        needs_review=await identity_repository.held_by_other_patient(session, index, patient.id),
        idempotency_key=idempotency_key,
    )
    session.add(row)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, DECLARATION_RESOURCE, row.id, patient.id
    )
    return row


async def record_verified(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID, record: PersonRecord
) -> InsuredIdentity:
    """Store an authoritative record as the patient's verified identity (superseding the one
    in force), mirror it onto the profile and re-bind the unexpired entitlements; audited. A
    record identical to the one in force returns it unchanged."""
    patient = await _locked_patient(session, patient_id)
    index = blind_index(session, record.national_id)
    if await identity_repository.held_by_other_patient(session, index, patient.id):
        raise Conflict("national_id_held_by_other_patient")
    previous = await identity_repository.current_identity(session, patient.id)
    if previous is not None and _same(previous, record, index):
        # The source says again what is in force (a retried or concurrent identical request):
        # nothing new to record, bind or audit.
        return previous
    row = InsuredIdentity(
        patient_id=patient.id,
        supersedes_id=previous.id if previous is not None else None,
        national_id=record.national_id,
        national_id_index=index,
        insurance_type=record.insurance_type,
        insured_area=record.insured_area,
        personal_account=record.personal_account,
        personal_account_balance_fen=record.personal_account_balance_fen,
        source=record.source,
        source_reference=record.reference,
        verified_by_account_id=principal.account_id,
        verified_at=utcnow(),
    )
    if not await add_unique(session, row):
        # Another verification of this patient became current first (the locks make this
        # rare: it needs a verification outside this service).
        raise Conflict("identity_verification_concurrent")
    # The profile shows the verified identity; only verification ever writes these columns.
    patient.national_id = record.national_id
    patient.national_id_index = index
    patient.insurance_type = record.insurance_type
    await audit_service.record(
        session, principal, AuditAction.create, IDENTITY_RESOURCE, row.id, patient.id
    )
    bound = await identity_repository.entitlements_to_bind(session, patient.id, city_date())
    for entitlement in bound:
        await _bind(session, entitlement, row, principal)
    await session.flush()
    await audit_service.record_many(
        session,
        principal,
        AuditAction.update,
        ENTITLEMENT_RESOURCE,
        [(e.id, patient.id) for e in bound],
    )
    return row


def _same(identity: InsuredIdentity, record: PersonRecord, index: str) -> bool:
    return (
        identity.national_id_index == index
        and identity.insurance_type == record.insurance_type
        and identity.insured_area == record.insured_area
        and identity.personal_account == record.personal_account
        and identity.personal_account_balance_fen == record.personal_account_balance_fen
        and identity.source == record.source
        and identity.source_reference == record.reference
    )


async def verify_from_source(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID,
    source: InsuredIdentitySource,
    national_id: str,
    insured_area: str,
) -> InsuredIdentity:
    """Ask an authoritative source about the person and record its answer as verified."""
    record = await source.look_up(national_id, insured_area)
    if record is None:
        raise NotFound("insured_person_not_found")
    return await record_verified(session, principal, patient_id, record)


async def _bind(
    session: AsyncSession,
    entitlement: Entitlement,
    identity: InsuredIdentity,
    principal: Principal,
) -> None:
    session.add(
        EntitlementIdentity(
            entitlement_id=entitlement.id,
            insured_identity_id=identity.id,
            bound_at=utcnow(),
            bound_by_account_id=principal.account_id,
        )
    )


async def bind_new_entitlement(
    session: AsyncSession, entitlement: Entitlement, principal: Principal
) -> InsuredIdentity | None:
    """Bind the patient's verified identity in force to an entitlement just approved (None
    while unverified: a later verification binds it)."""
    current = await identity_repository.current_identity(session, entitlement.patient_id)
    if current is not None:
        await _bind(session, entitlement, current, principal)
        await session.flush()
    return current


def differences(declared: IdentityDeclaration, verified: InsuredIdentity) -> list[str]:
    """The fields in which a declaration and a verified identity disagree."""
    pairs = (
        ("national_id", declared.national_id_index, verified.national_id_index),
        ("insurance_type", declared.insurance_type, verified.insurance_type),
        ("insured_area", declared.insured_area, verified.insured_area),
    )
    return [name for name, left, right in pairs if left != right]


async def identity_of_entitlement(
    session: AsyncSession, entitlement: Entitlement
) -> InsuredIdentity:
    """The verified identity claims under the entitlement use; 409 when there is none."""
    identity_id = await identity_repository.bound_identity_id(session, entitlement.id)
    if identity_id is None:
        raise Conflict("insured_identity_unverified")
    identity = await by_id(session, InsuredIdentity, identity_id)
    assert identity is not None
    return identity


async def ensure_settleable(
    session: AsyncSession, patient_id: uuid.UUID, identity_id: uuid.UUID | None
) -> InsuredIdentity:
    """The verified identity a claim is settled with, compared with the patient's latest
    declaration: 409 insured_identity_unverified (none, another patient's, or superseded) or
    insured_identity_mismatch (no declaration, or one that differs)."""
    identity = None if identity_id is None else await by_id(session, InsuredIdentity, identity_id)
    if (
        identity is None
        or identity.patient_id != patient_id
        or not await identity_repository.is_current(session, identity.id)
    ):
        raise Conflict("insured_identity_unverified")
    declared = await identity_repository.latest_declaration(session, patient_id)
    if declared is None:
        raise Conflict("insured_identity_mismatch", fields="declaration", extra={"fields": []})
    different = differences(declared, identity)
    if different:
        raise Conflict(
            "insured_identity_mismatch", fields=", ".join(different), extra={"fields": different}
        )
    return identity


async def account_available_fen(session: AsyncSession, identity: InsuredIdentity) -> int:
    """The personal-account balance still usable under this verified identity."""
    if not identity.personal_account:
        return 0
    used = await identity_repository.account_used_fen(session, identity.id)
    return max(0, identity.personal_account_balance_fen - used)


@dataclass(frozen=True)
class Status:
    """A patient's latest declaration and verified identity, compared."""

    declared: IdentityDeclaration | None
    verified: InsuredIdentity | None
    available_fen: int
    differences: list[str] | None


async def status_of(session: AsyncSession, patient_id: uuid.UUID) -> Status:
    """Declared and verified side by side (not audited: callers audit what they show)."""
    declared = await identity_repository.latest_declaration(session, patient_id)
    verified = await identity_repository.current_identity(session, patient_id)
    available = 0 if verified is None else await account_available_fen(session, verified)
    different = (
        differences(declared, verified) if declared is not None and verified is not None else None
    )
    return Status(declared, verified, available, different)


async def patient_status(session: AsyncSession, principal: Principal) -> Status:
    """The signed-in patient's own identity status, audited."""
    assert principal.patient_id is not None
    status = await status_of(session, principal.patient_id)
    if status.verified is not None:
        await audit_service.record(
            session,
            principal,
            AuditAction.read,
            IDENTITY_RESOURCE,
            status.verified.id,
            principal.patient_id,
        )
    return status


async def staff_status(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> Status:
    """A patient's identity status for a bureau clerk (404 for an unknown patient), audited."""
    if await by_id(session, Patient, patient_id) is None:
        raise NotFound()
    status = await status_of(session, patient_id)
    await audit_service.record(
        session,
        principal,
        AuditAction.read,
        IDENTITY_RESOURCE,
        status.verified.id if status.verified is not None else None,
        patient_id,
    )
    return status


async def review_queue(
    session: AsyncSession,
    principal: Principal,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[IdentityDeclaration]:
    """Declarations of numbers another patient holds, newest first, for staff; audited."""
    rows = list(await identity_repository.review_queue(session, after, limit))
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        DECLARATION_RESOURCE,
        [(r.id, r.patient_id) for r in rows],
    )
    return rows
