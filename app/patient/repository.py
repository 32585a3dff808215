"""SQL for patients, always through the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.kit.clock import utcnow
from app.models import Patient


async def get_visible(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> Patient | None:
    """The patient if the caller may see them, else None."""
    return await session.scalar(
        select(Patient).where(
            Patient.id == patient_id, patient_scope(principal, Patient.id, utcnow())
        )
    )


async def list_visible(
    session: AsyncSession, principal: Principal, after_id: uuid.UUID | None, limit: int
) -> Sequence[Patient]:
    """The patients the caller may see, ordered by id, paged by keyset."""
    statement = select(Patient).where(patient_scope(principal, Patient.id, utcnow()))
    if after_id is not None:
        statement = statement.where(Patient.id > after_id)
    return (await session.scalars(statement.order_by(Patient.id).limit(limit))).all()
