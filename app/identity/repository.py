"""SQL for declared and verified insured identities."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.pagination import beyond
from app.models import (
    Entitlement,
    EntitlementIdentity,
    IdentityDeclaration,
    InsuredIdentity,
    Patient,
    Settlement,
)


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient | None:
    """The patient row, locked: serialises a patient's declarations and verifications."""
    return await session.scalar(select(Patient).where(Patient.id == patient_id).with_for_update())


async def latest_declaration(
    session: AsyncSession, patient_id: uuid.UUID
) -> IdentityDeclaration | None:
    """The patient's most recent declaration."""
    return await session.scalar(
        select(IdentityDeclaration)
        .where(IdentityDeclaration.patient_id == patient_id)
        .order_by(IdentityDeclaration.declared_at.desc(), IdentityDeclaration.created_at.desc())
        .limit(1)
    )


async def declaration_by_key(
    session: AsyncSession, patient_id: uuid.UUID, key: str
) -> IdentityDeclaration | None:
    """The declaration a retried request made first."""
    return await session.scalar(
        select(IdentityDeclaration).where(
            IdentityDeclaration.patient_id == patient_id,
            IdentityDeclaration.idempotency_key == key,
        )
    )


async def declaration_times_since(
    session: AsyncSession, patient_id: uuid.UUID, since: datetime
) -> list[datetime]:
    """When the patient declared since `since`, oldest first."""
    rows = await session.scalars(
        select(IdentityDeclaration.declared_at)
        .where(
            IdentityDeclaration.patient_id == patient_id, IdentityDeclaration.declared_at > since
        )
        .order_by(IdentityDeclaration.declared_at)
    )
    return list(rows)


def _current() -> object:
    superseded = select(InsuredIdentity.supersedes_id).where(
        InsuredIdentity.supersedes_id.is_not(None)
    )
    return InsuredIdentity.id.not_in(superseded)


async def current_identity(session: AsyncSession, patient_id: uuid.UUID) -> InsuredIdentity | None:
    """The patient's verified identity in force (the one no later record supersedes)."""
    return await session.scalar(
        select(InsuredIdentity).where(
            InsuredIdentity.patient_id == patient_id,
            _current(),  # type: ignore[arg-type]
        )
    )


async def is_current(session: AsyncSession, identity_id: uuid.UUID) -> bool:
    """Whether no later record supersedes this one."""
    found = await session.scalar(
        select(InsuredIdentity.id).where(InsuredIdentity.supersedes_id == identity_id)
    )
    return found is None


async def held_by_other_patient(
    session: AsyncSession, national_id_index: str, patient_id: uuid.UUID
) -> bool:
    """Whether another patient holds this certificate number (on their profile or verified)."""
    on_profile = select(Patient.id).where(
        Patient.national_id_index == national_id_index, Patient.id != patient_id
    )
    verified = select(InsuredIdentity.id).where(
        InsuredIdentity.national_id_index == national_id_index,
        InsuredIdentity.patient_id != patient_id,
        _current(),  # type: ignore[arg-type]
    )
    found = await session.scalar(select(or_(on_profile.exists(), verified.exists())))
    return bool(found)


async def account_used_fen(session: AsyncSession, identity_id: uuid.UUID) -> int:
    """Personal-account money settled with this identity, net of reversals."""
    used = await session.scalar(
        select(func.coalesce(func.sum(Settlement.account_fen), 0)).where(
            Settlement.insured_identity_id == identity_id
        )
    )
    return int(used or 0)


async def entitlements_to_bind(
    session: AsyncSession, patient_id: uuid.UUID, today: date
) -> Sequence[Entitlement]:
    """The patient's entitlements not yet expired (the ones a re-verification re-binds)."""
    rows = await session.scalars(
        select(Entitlement)
        .where(Entitlement.patient_id == patient_id, Entitlement.valid_until >= today)
        .order_by(Entitlement.valid_from)
    )
    return rows.all()


async def review_queue(
    session: AsyncSession, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> Sequence[IdentityDeclaration]:
    """Declarations of a certificate number another patient holds, newest first, resuming
    after the (declared_at, id) key of the previous page's last one."""
    order = (IdentityDeclaration.declared_at, IdentityDeclaration.id)
    statement = select(IdentityDeclaration).where(IdentityDeclaration.needs_review.is_(True))
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    rows = await session.scalars(
        statement.order_by(*(column.desc() for column in order)).limit(limit)
    )
    return rows.all()


async def bound_identity_id(session: AsyncSession, entitlement_id: uuid.UUID) -> uuid.UUID | None:
    """The verified identity most recently bound to the entitlement."""
    return await session.scalar(
        select(EntitlementIdentity.insured_identity_id)
        .where(EntitlementIdentity.entitlement_id == entitlement_id)
        .order_by(EntitlementIdentity.bound_at.desc(), EntitlementIdentity.created_at.desc())
        .limit(1)
    )
