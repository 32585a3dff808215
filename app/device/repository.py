"""SQL for devices and sensor sessions, through the caller's scope where patient data is read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.models import Device, SensorSession


async def bound_devices(session: AsyncSession, patient_id: uuid.UUID) -> Sequence[Device]:
    """The patient's currently bound devices."""
    return (
        await session.scalars(
            select(Device).where(Device.patient_id == patient_id, Device.unbound_at.is_(None))
        )
    ).all()


async def bound_serial_taken(session: AsyncSession, kind: str, serial: str) -> Device | None:
    """The device currently bound under this serial, if any."""
    return await session.scalar(
        select(Device).where(
            Device.kind == kind, Device.serial == serial, Device.unbound_at.is_(None)
        )
    )


async def get_visible(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID, now: datetime
) -> Device | None:
    """A bound device whose patient the caller may see."""
    return await session.scalar(
        select(Device).where(
            Device.id == device_id,
            Device.unbound_at.is_(None),
            patient_scope(principal, Device.patient_id, now),
        )
    )


async def running_sessions(
    session: AsyncSession, device_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, SensorSession]:
    """The running sensor session of each of these devices that has one."""
    if not device_ids:
        return {}
    rows = await session.scalars(
        select(SensorSession).where(
            SensorSession.device_id.in_(device_ids), SensorSession.ended_at.is_(None)
        )
    )
    return {row.device_id: row for row in rows}
