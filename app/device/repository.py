"""SQL for devices and sensor sessions, through the caller's scope where patient data is read."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.kit.sql import insert_ignoring_conflicts
from app.models import (
    Device,
    DevicePairingFailure,
    DeviceRegistration,
    Patient,
    SensorSession,
)


async def bound_devices(session: AsyncSession, patient_id: uuid.UUID) -> Sequence[Device]:
    """The patient's currently bound devices."""
    return (
        await session.scalars(
            select(Device).where(Device.patient_id == patient_id, Device.unbound_at.is_(None))
        )
    ).all()


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> None:
    """Hold the patient's row until the transaction ends (PostgreSQL), so device caps count
    what concurrent bindings of the same patient did; SQLite has one writer at a time."""
    await session.execute(
        select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True)
    )


async def bound_of_patient(
    session: AsyncSession, patient_id: uuid.UUID, kind: str, serial: str
) -> Device | None:
    """The patient's currently bound device under this serial, if any."""
    return await session.scalar(
        select(Device).where(
            Device.patient_id == patient_id,
            Device.kind == kind,
            Device.serial == serial,
            Device.unbound_at.is_(None),
        )
    )


async def verified_holder(session: AsyncSession, kind: str, serial: str) -> Device | None:
    """The binding of this serial whose patient proved possession, if any."""
    return await session.scalar(
        select(Device).where(
            Device.kind == kind,
            Device.serial == serial,
            Device.unbound_at.is_(None),
            Device.verified.is_(True),
        )
    )


async def end_unproven_claims(
    session: AsyncSession, kind: str, serial: str, owner_id: uuid.UUID, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Unbind every unproven binding of this serial by other patients (and end their running
    sensors); (device, patient) of each."""
    ended = await session.execute(
        update(Device)
        .where(
            Device.kind == kind,
            Device.serial == serial,
            Device.unbound_at.is_(None),
            Device.verified.is_(False),
            Device.patient_id != owner_id,
        )
        .values(unbound_at=now)
        .returning(Device.id, Device.patient_id)
        .execution_options(synchronize_session=False)
    )
    claims = [(row.id, row.patient_id) for row in ended]
    if claims:
        # Their sensors end with them, as when a patient unbinds.
        await session.execute(
            update(SensorSession)
            .where(
                SensorSession.device_id.in_([device_id for device_id, _ in claims]),
                SensorSession.ended_at.is_(None),
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
    return claims


async def bound_counts(session: AsyncSession, patient_id: uuid.UUID) -> dict[tuple[str, bool], int]:
    """The patient's bound devices counted by (kind, imported)."""
    imported = Device.source == "import"
    rows = await session.execute(
        select(Device.kind, imported, func.count())
        .where(Device.patient_id == patient_id, Device.unbound_at.is_(None))
        .group_by(Device.kind, imported)
    )
    return {(kind, bool(was_imported)): count for kind, was_imported, count in rows}


async def registration(
    session: AsyncSession, kind: str, serial: str, *, lock: bool = False
) -> DeviceRegistration | None:
    """The registration of this serial, if it was registered (`lock`: FOR UPDATE, so claims
    of one registered serial by several patients at once are decided one after another)."""
    statement = select(DeviceRegistration).where(
        DeviceRegistration.kind == kind, DeviceRegistration.serial == serial
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def pairing_failures(
    session: AsyncSession, registration_id: uuid.UUID, patient_id: uuid.UUID
) -> int:
    """Wrong codes this patient gave for this registration."""
    return int(
        await session.scalar(
            select(DevicePairingFailure.failures).where(
                DevicePairingFailure.registration_id == registration_id,
                DevicePairingFailure.patient_id == patient_id,
            )
        )
        or 0
    )


async def record_pairing_failure(
    session: AsyncSession, registration_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
) -> None:
    """Count one more wrong code of this patient for this registration."""
    await session.execute(
        insert_ignoring_conflicts(session, DevicePairingFailure).values(
            registration_id=registration_id, patient_id=patient_id, failures=0, last_failed_at=now
        )
    )
    await session.execute(
        update(DevicePairingFailure)
        .where(
            DevicePairingFailure.registration_id == registration_id,
            DevicePairingFailure.patient_id == patient_id,
        )
        .values(failures=DevicePairingFailure.failures + 1, last_failed_at=now)
        .execution_options(synchronize_session=False)
    )


async def add_registrations(
    session: AsyncSession, rows: Sequence[Mapping[str, object]]
) -> set[str]:
    """Insert registrations, skipping serials registered already; the serials inserted."""
    if not rows:
        return set()
    inserted = await session.scalars(
        insert_ignoring_conflicts(session, DeviceRegistration, ["kind", "serial"]).returning(
            DeviceRegistration.serial
        ),
        rows,
    )
    return set(inserted)


async def get_visible(
    session: AsyncSession,
    principal: Principal,
    device_id: uuid.UUID,
    now: datetime,
    *,
    lock: bool = False,
) -> Device | None:
    """A bound device whose patient the caller may see (`lock`: FOR UPDATE, for changing it
    or its sensor sessions)."""
    statement = select(Device).where(
        Device.id == device_id,
        Device.unbound_at.is_(None),
        patient_scope(principal, Device.patient_id, now),
    )
    if lock:
        statement = statement.with_for_update(of=Device)
    return await session.scalar(statement)


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
