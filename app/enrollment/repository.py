"""SQL for enrollment: reviewers, applications (through their scope), records, entitlements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, Date, Select, Uuid, bindparam, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.models import (
    CatalogueEdition,
    CatalogueEntry,
    ChronicDisease,
    Doctor,
    EnrollmentApplication,
    EnrollmentRecord,
    EnrollmentReviewer,
    Entitlement,
    Patient,
    Role,
)


def reviewed_institutions(doctor_id: uuid.UUID) -> Select[uuid.UUID]:
    """Subquery: the institutions whose applications this doctor currently reviews."""
    return select(EnrollmentReviewer.institution_id).where(
        EnrollmentReviewer.doctor_id == doctor_id, EnrollmentReviewer.revoked_at.is_(None)
    )


def application_scope(principal: Principal) -> ColumnElement[bool]:
    """Applications the caller may see: their own, or those at institutions they review."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return EnrollmentApplication.patient_id == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return EnrollmentApplication.institution_id.in_(reviewed_institutions(principal.doctor_id))
    return false()


async def get_visible_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *, lock: bool = False
) -> EnrollmentApplication | None:
    """An application the caller may see (locked for update when asked), else None."""
    statement = select(EnrollmentApplication).where(
        EnrollmentApplication.id == application_id, application_scope(principal)
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def list_visible_applications(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    after_id: uuid.UUID | None,
    limit: int,
) -> Sequence[EnrollmentApplication]:
    """Applications the caller may see, oldest submission first (a reviewer's work queue)."""
    statement = select(EnrollmentApplication).where(application_scope(principal))
    if status is not None:
        statement = statement.where(EnrollmentApplication.status == status)
    if after_id is not None:
        statement = statement.where(EnrollmentApplication.id > after_id)
    statement = statement.order_by(EnrollmentApplication.id).limit(limit)
    return (await session.scalars(statement)).all()


async def application_by_key(
    session: AsyncSession, patient_id: uuid.UUID, idempotency_key: str
) -> EnrollmentApplication | None:
    """The patient's application created with this idempotency key."""
    return await session.scalar(
        select(EnrollmentApplication).where(
            EnrollmentApplication.patient_id == patient_id,
            EnrollmentApplication.idempotency_key == idempotency_key,
        )
    )


async def open_application_exists(
    session: AsyncSession, patient_id: uuid.UUID, disease_id: uuid.UUID
) -> bool:
    """Whether the patient has a draft or pending application for the disease."""
    found = await session.scalar(
        select(EnrollmentApplication.id).where(
            EnrollmentApplication.patient_id == patient_id,
            EnrollmentApplication.disease_id == disease_id,
            EnrollmentApplication.status.in_(("draft", "pending")),
        )
    )
    return found is not None


async def records_of(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[EnrollmentRecord]]:
    """The records of these applications, oldest first, by application id."""
    found: dict[uuid.UUID, list[EnrollmentRecord]] = {a: [] for a in application_ids}
    if not application_ids:
        return found
    rows = await session.scalars(
        select(EnrollmentRecord)
        .where(EnrollmentRecord.application_id.in_(list(application_ids)))
        .order_by(EnrollmentRecord.created_at, EnrollmentRecord.id)
    )
    for row in rows:
        found[row.application_id].append(row)
    return found


async def record_count(session: AsyncSession, application_id: uuid.UUID) -> int:
    """How many records an application has."""
    count = await session.scalar(
        select(func.count()).where(EnrollmentRecord.application_id == application_id)
    )
    return count or 0


async def get_record(
    session: AsyncSession, application_id: uuid.UUID, record_id: uuid.UUID
) -> EnrollmentRecord | None:
    """One record of an application."""
    return await session.scalar(
        select(EnrollmentRecord).where(
            EnrollmentRecord.id == record_id, EnrollmentRecord.application_id == application_id
        )
    )


def _online_admitted_active_diseases_statement() -> Select[ChronicDisease, int | None]:
    on, patient_id = bindparam("on", type_=Date), bindparam("patient", type_=Uuid)
    edition = (
        select(CatalogueEdition.id)
        .where(CatalogueEdition.effective_from <= on)
        .order_by(CatalogueEdition.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    valid = (
        Entitlement.patient_id == patient_id,
        Entitlement.valid_from <= on,
        Entitlement.valid_until >= on,
    )
    entitled = select(Entitlement.disease_id).where(*valid)
    admitted = select(CatalogueEntry.disease_id).where(
        CatalogueEntry.edition_id == edition, CatalogueEntry.online_admitted.is_(True)
    )
    # The earliest year of diagnosis on the applications behind the valid entitlements.
    diagnosed = (
        select(func.min(EnrollmentApplication.diagnosed_year))
        .join(Entitlement, Entitlement.application_id == EnrollmentApplication.id)
        .where(*valid, Entitlement.disease_id == ChronicDisease.id)
        .correlate(ChronicDisease)
        .scalar_subquery()
    )
    return (
        select(ChronicDisease, diagnosed.label("diagnosed_year"))
        .where(ChronicDisease.id.in_(entitled), ChronicDisease.id.in_(admitted))
        .order_by(ChronicDisease.code)
    )


# Built once (every doctor assignment runs it): SQLAlchemy then finds its compiled form
# without building and keying the expression again.
_ONLINE_ADMITTED_ACTIVE_DISEASES = _online_admitted_active_diseases_statement()


async def online_admitted_active_diseases(
    session: AsyncSession, patient_id: uuid.UUID, on: date
) -> Sequence[tuple[ChronicDisease, int | None]]:
    """In one round trip: the diseases of the patient's entitlements valid on `on` that the
    catalogue edition in force on `on` admits online, by code, each with its year of diagnosis
    (the application's, if recorded)."""
    parameters = {"patient": patient_id, "on": on}
    rows = await session.execute(_ONLINE_ADMITTED_ACTIVE_DISEASES, parameters)
    return [(disease, year) for disease, year in rows]


async def diseases_by_id(
    session: AsyncSession, disease_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ChronicDisease]:
    """Diseases by id."""
    if not disease_ids:
        return {}
    rows = await session.scalars(
        select(ChronicDisease).where(ChronicDisease.id.in_(list(set(disease_ids))))
    )
    return {row.id: row for row in rows}


async def disease_by_code(session: AsyncSession, code: str) -> ChronicDisease | None:
    """A disease by its local code."""
    return await session.scalar(select(ChronicDisease).where(ChronicDisease.code == code))


async def patient_names(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """Patients' names by id."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.name).where(Patient.id.in_(list(set(patient_ids))))
    )
    return dict(rows.all())


async def patient_account_id(session: AsyncSession, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The account notifications to the patient go to."""
    return await session.scalar(select(Patient.account_id).where(Patient.id == patient_id))


async def active_reviewer(
    session: AsyncSession, doctor_id: uuid.UUID, institution_id: uuid.UUID
) -> EnrollmentReviewer | None:
    """The doctor's live reviewer grant at the institution."""
    return await session.scalar(
        select(EnrollmentReviewer).where(
            EnrollmentReviewer.doctor_id == doctor_id,
            EnrollmentReviewer.institution_id == institution_id,
            EnrollmentReviewer.revoked_at.is_(None),
        )
    )


async def list_reviewers(session: AsyncSession) -> Sequence[EnrollmentReviewer]:
    """Live reviewer grants."""
    return (
        await session.scalars(
            select(EnrollmentReviewer)
            .where(EnrollmentReviewer.revoked_at.is_(None))
            .order_by(EnrollmentReviewer.institution_id, EnrollmentReviewer.created_at)
        )
    ).all()


async def revoke_reviewer(session: AsyncSession, doctor_id: uuid.UUID, now: datetime) -> int:
    """End every live grant of the doctor; how many ended."""
    result = await session.execute(
        update(EnrollmentReviewer)
        .where(EnrollmentReviewer.doctor_id == doctor_id, EnrollmentReviewer.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def get_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> Doctor | None:
    """A doctor by id."""
    return await session.get(Doctor, doctor_id)


async def entitlements_of(session: AsyncSession, patient_id: uuid.UUID) -> Sequence[Entitlement]:
    """Every entitlement of the patient, latest validity first."""
    return (
        await session.scalars(
            select(Entitlement)
            .where(Entitlement.patient_id == patient_id)
            .order_by(Entitlement.valid_until.desc(), Entitlement.id)
        )
    ).all()


async def active_entitlements(
    session: AsyncSession, patient_id: uuid.UUID, on: date
) -> Sequence[Entitlement]:
    """The patient's entitlements valid on `on`."""
    return (
        await session.scalars(
            select(Entitlement).where(
                Entitlement.patient_id == patient_id,
                Entitlement.valid_from <= on,
                Entitlement.valid_until >= on,
            )
        )
    ).all()


async def latest_validity(
    session: AsyncSession, patient_id: uuid.UUID, disease_id: uuid.UUID
) -> date | None:
    """The last day any entitlement of the patient for the disease is valid."""
    return await session.scalar(
        select(func.max(Entitlement.valid_until)).where(
            Entitlement.patient_id == patient_id, Entitlement.disease_id == disease_id
        )
    )


async def entitlement_by_application(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Entitlement]:
    """Entitlements created by these applications, by application id."""
    if not application_ids:
        return {}
    rows = await session.scalars(
        select(Entitlement).where(Entitlement.application_id.in_(list(application_ids)))
    )
    return {row.application_id: row for row in rows}
