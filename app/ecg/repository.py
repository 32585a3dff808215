"""SQL for ECG strips: race-free insert on the natural key, scoped reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.models import EcgStrip


async def insert(session: AsyncSession, values: dict[str, Any]) -> EcgStrip | None:
    """Insert a strip unless its device already has one recorded at that moment (then None)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(EcgStrip)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["device_id", "recorded_at"])
        .returning(EcgStrip)
    )
    return (await session.scalars(statement)).one_or_none()


async def by_natural_key(
    session: AsyncSession, device_id: uuid.UUID, recorded_at: datetime
) -> EcgStrip | None:
    """The device's strip recorded at that moment."""
    return await session.scalar(
        select(EcgStrip).where(EcgStrip.device_id == device_id, EcgStrip.recorded_at == recorded_at)
    )


async def get_visible(
    session: AsyncSession, principal: Principal, strip_id: uuid.UUID, now: datetime
) -> EcgStrip | None:
    """A strip of a patient the caller may see."""
    return await session.scalar(
        select(EcgStrip).where(
            EcgStrip.id == strip_id, patient_scope(principal, EcgStrip.patient_id, now)
        )
    )


async def page(
    session: AsyncSession, patient_id: uuid.UUID, before: datetime | None, limit: int
) -> Sequence[EcgStrip]:
    """A patient's strips, newest recording first."""
    statement = select(EcgStrip).where(EcgStrip.patient_id == patient_id)
    if before is not None:
        statement = statement.where(EcgStrip.recorded_at < before)
    return (
        await session.scalars(statement.order_by(EcgStrip.recorded_at.desc()).limit(limit))
    ).all()
