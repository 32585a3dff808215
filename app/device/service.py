"""Rules for binding devices and running CGM sensors (scoped, audited)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device import repository as device_repository
from app.device.schemas import DeviceCreate, DeviceOut, SensorSessionStart
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.models import Device, SensorSession
from app.patient import repository as patient_repository

RESOURCE = "device"


async def bind_device(
    session: AsyncSession, principal: Principal, settings: Settings, body: DeviceCreate
) -> DeviceOut:
    """Bind a device to the signed-in patient; a serial bound to anyone else is 409."""
    assert principal.patient_id is not None
    taken = await device_repository.bound_serial_taken(session, body.kind, body.serial)
    if taken is not None:
        if taken.patient_id != principal.patient_id:
            raise Conflict("device_already_bound")
        return DeviceOut.build(taken, None)  # binding again is a no-op
    interval = body.sample_interval_seconds
    if body.kind == "cgm" and interval is None:
        interval = settings.cgm_default_interval_seconds
    device = Device(
        patient_id=principal.patient_id,
        kind=body.kind,
        model=body.model,
        serial=body.serial,
        unit=body.unit,
        sample_interval_seconds=interval,
        range_low_mg_dl=body.range_low_mg_dl,
        range_high_mg_dl=body.range_high_mg_dl,
        source="app",
        bound_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, device.id, device.patient_id
    )
    return DeviceOut.build(device, None)


async def _own_device(session: AsyncSession, principal: Principal, device_id: uuid.UUID) -> Device:
    device = await device_repository.get_visible(session, principal, device_id, utcnow())
    if device is None or device.patient_id != principal.patient_id:
        raise NotFound()
    return device


async def unbind_device(session: AsyncSession, principal: Principal, device_id: uuid.UUID) -> None:
    """Unbind one of the patient's devices (its running sensor ends); readings are kept."""
    device = await _own_device(session, principal, device_id)
    now = utcnow()
    running = await device_repository.running_sessions(session, [device.id])
    if device.id in running:
        running[device.id].ended_at = now
    device.unbound_at = now
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.delete, RESOURCE, device.id, device.patient_id
    )


async def list_devices(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> Sequence[DeviceOut]:
    """A patient's bound devices with their running sensors (patient themself or their doctor)."""
    patient = await patient_repository.get_visible(session, principal, patient_id)
    if patient is None:
        raise NotFound()
    devices = await device_repository.bound_devices(session, patient.id)
    running = await device_repository.running_sessions(session, [d.id for d in devices])
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(d.id, d.patient_id) for d in devices]
    )
    return [DeviceOut.build(d, running.get(d.id)) for d in devices]


async def start_sensor(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID, body: SensorSessionStart
) -> SensorSession:
    """Start a sensor on one of the patient's CGMs; one runs at a time (409 otherwise)."""
    device = await _own_device(session, principal, device_id)
    if device.kind != "cgm":
        raise Conflict("device_not_cgm")
    if await device_repository.running_sessions(session, [device.id]):
        raise Conflict("sensor_session_running")
    started = body.started_at or utcnow()
    sensor = SensorSession(
        device_id=device.id,
        patient_id=device.patient_id,
        started_at=started,
        expected_end_at=started + timedelta(days=body.expected_days),
    )
    session.add(sensor)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, "sensor_session", sensor.id, device.patient_id
    )
    return sensor


async def end_sensor(
    session: AsyncSession, principal: Principal, device_id: uuid.UUID
) -> SensorSession:
    """End the sensor running on one of the patient's CGMs."""
    device = await _own_device(session, principal, device_id)
    running = (await device_repository.running_sessions(session, [device.id])).get(device.id)
    if running is None:
        raise NotFound("sensor_session_not_found")
    running.ended_at = utcnow()
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.update, "sensor_session", running.id, device.patient_id
    )
    return running


async def ensure_device(
    session: AsyncSession,
    patient_id: uuid.UUID,
    *,
    kind: str,
    model: str,
    serial: str,
    unit: str,
    source: str,
    sample_interval_seconds: int | None,
    range_mg_dl: tuple[float, float] | None = None,
) -> Device:
    """The patient's bound device with this serial, bound now if new (imports, Nightscout).

    A serial bound to another patient is 409: one physical device feeds one patient.
    """
    found = await device_repository.bound_serial_taken(session, kind, serial)
    if found is not None:
        if found.patient_id != patient_id:
            raise Conflict("device_already_bound")
        return found
    device = Device(
        patient_id=patient_id,
        kind=kind,
        model=model[:64],
        serial=serial[:64],
        unit=unit,
        sample_interval_seconds=sample_interval_seconds,
        range_low_mg_dl=range_mg_dl[0] if range_mg_dl else None,
        range_high_mg_dl=range_mg_dl[1] if range_mg_dl else None,
        source=source,
        bound_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    return device
