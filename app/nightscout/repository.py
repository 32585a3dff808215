"""SQL for Nightscout credentials and the entries Nightscout readers ask for."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import insert_ignoring_conflicts
from app.models import Account, NightscoutCredential, Patient, Reading


async def for_patient(session: AsyncSession, patient_id: uuid.UUID) -> NightscoutCredential | None:
    """The patient's credential, if any."""
    return await session.scalar(
        select(NightscoutCredential).where(NightscoutCredential.patient_id == patient_id)
    )


async def rotated_at(session: AsyncSession, patient_id: uuid.UUID) -> datetime | None:
    """When the patient's secret was last set (None: they have none)."""
    return await session.scalar(
        select(NightscoutCredential.rotated_at).where(NightscoutCredential.patient_id == patient_id)
    )


async def set_secret(
    session: AsyncSession,
    patient_id: uuid.UUID,
    device_id: uuid.UUID,
    secret_index: str,
    now: datetime,
    seen: datetime | None,
) -> uuid.UUID | None:
    """Give the patient this secret: a new credential when `seen` is None, else a replacement
    of the secret rotated at `seen`. The credential's id, or None when another request made
    or rotated it meanwhile (a waiting write re-reads the row its rival committed)."""
    values = {"secret_index": secret_index, "device_id": device_id, "rotated_at": now}
    if seen is None:
        inserted = (
            insert_ignoring_conflicts(session, NightscoutCredential, ["patient_id"])
            .values(id=uuid.uuid4(), patient_id=patient_id, created_at=now, **values)
            .returning(NightscoutCredential.id)
        )
        made: uuid.UUID | None = (await session.execute(inserted)).scalar_one_or_none()
        return made
    replaced = (
        update(NightscoutCredential)
        .where(
            NightscoutCredential.patient_id == patient_id, NightscoutCredential.rotated_at == seen
        )
        .values(**values)
        .returning(NightscoutCredential.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(replaced)).scalar_one_or_none()


async def by_secret_index(
    session: AsyncSession, secret_index: str
) -> tuple[NightscoutCredential, Patient, Account] | None:
    """The credential with this secret index, its patient and their (active) account."""
    row = (
        await session.execute(
            select(NightscoutCredential, Patient, Account)
            .join(Patient, Patient.id == NightscoutCredential.patient_id)
            .join(Account, Account.id == Patient.account_id)
            .where(NightscoutCredential.secret_index == secret_index, Account.is_active.is_(True))
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


async def remove(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    """Delete the patient's credential; whether there was one."""
    result = await session.execute(
        delete(NightscoutCredential).where(NightscoutCredential.patient_id == patient_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def entries(
    session: AsyncSession,
    patient_id: uuid.UUID,
    kinds: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    value_bounds: tuple[float | None, float | None],
    limit: int,
) -> Sequence[Reading]:
    """The patient's readings of these kinds in (since, until] as bounds allow, newest first."""
    statement = select(Reading).where(Reading.patient_id == patient_id, Reading.kind.in_(kinds))
    if since is not None:
        statement = statement.where(Reading.measured_at >= since)
    if until is not None:
        statement = statement.where(Reading.measured_at <= until)
    low, high = value_bounds
    if low is not None:
        statement = statement.where(Reading.value >= low)
    if high is not None:
        statement = statement.where(Reading.value <= high)
    return (
        await session.scalars(
            statement.order_by(Reading.measured_at.desc(), Reading.kind).limit(limit)
        )
    ).all()
