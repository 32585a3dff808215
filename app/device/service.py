"""Rules for binding devices and running CGM sensors (scoped, audited)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device import repository as device_repository
from app.device.schemas import (
    DeviceCreate,
    DeviceOut,
    DeviceRegistrationBatch,
    DeviceRegistrationReport,
    DeviceRegistrationResult,
    SensorSessionStart,
)
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.crypto import blind_index
from app.models import Device, DeviceRegistration, SensorSession
from app.patient import repository as patient_repository

RESOURCE = "device"


class DeviceLimitReached(Conflict):
    code = "device_limit_reached"


async def _check_cap(
    session: AsyncSession, settings: Settings, patient_id: uuid.UUID, kind: str, imported: bool
) -> None:
    counts = await device_repository.bound_counts(session, patient_id)
    if imported:
        held = sum(n for (_, was_imported), n in counts.items() if was_imported)
        if held >= settings.device_max_imported_per_patient:
            raise DeviceLimitReached(limit=settings.device_max_imported_per_patient)
        return
    if counts.get((kind, False), 0) >= settings.device_max_per_kind:
        raise DeviceLimitReached("device_kind_limit_reached", limit=settings.device_max_per_kind)
    held = sum(n for (_, was_imported), n in counts.items() if not was_imported)
    if held >= settings.device_max_per_patient:
        raise DeviceLimitReached(limit=settings.device_max_per_patient)


async def _prove_possession(
    session: AsyncSession,
    settings: Settings,
    registration: DeviceRegistration,
    patient_id: uuid.UUID,
    code: str | None,
) -> None:
    """The pairing code given matches the registered one; each patient has a few tries per
    serial (a stranger's wrong guesses never lock the owner out)."""
    if code is None:
        raise Conflict("device_pairing_code_required")
    failures = await device_repository.pairing_failures(session, registration.id, patient_id)
    if failures >= settings.device_pairing_max_failures:
        raise Conflict("device_pairing_locked")
    if not hmac.compare_digest(blind_index(session, code), registration.pairing_code_index):
        await device_repository.record_pairing_failure(
            session, registration.id, patient_id, utcnow()
        )
        left = settings.device_pairing_max_failures - failures - 1
        # The failure is counted even though the request fails.
        raise Conflict("device_pairing_code_wrong", keep_changes=True, remaining=left)


async def bind_device(
    session: AsyncSession, principal: Principal, settings: Settings, body: DeviceCreate
) -> DeviceOut:
    """Bind a device to the signed-in patient (binding the same serial again returns it).

    A serial registered by its vendor or clinic needs its pairing code; the patient who gives it
    holds the serial (another patient's proven binding is 409) and every unproven claim of it by
    someone else ends. An unregistered serial binds as an unproven claim, which blocks nobody.
    """
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    await device_repository.lock_patient(session, patient_id)
    registration = await device_repository.registration(session, body.kind, body.serial, lock=True)
    if registration is not None:
        await _prove_possession(session, settings, registration, patient_id, body.pairing_code)
    verified = registration is not None
    if verified:
        holder = await device_repository.verified_holder(session, body.kind, body.serial)
        if holder is not None and holder.patient_id != patient_id:
            raise Conflict("device_already_bound")
    mine = await device_repository.bound_of_patient(session, patient_id, body.kind, body.serial)
    if mine is None:
        await _check_cap(session, settings, patient_id, body.kind, imported=False)
    if verified:
        ended = await device_repository.end_unproven_claims(
            session, body.kind, body.serial, patient_id, utcnow()
        )
        await audit_service.record_many(session, principal, AuditAction.update, RESOURCE, ended)
    if mine is not None:
        if verified and not mine.verified:
            mine.verified = True
            await session.flush()
            await audit_service.record(
                session, principal, AuditAction.update, RESOURCE, mine.id, patient_id
            )
        return DeviceOut.build(mine, None)  # binding again is a no-op
    interval = body.sample_interval_seconds
    if body.kind == "cgm" and interval is None:
        interval = settings.cgm_default_interval_seconds
    device = Device(
        patient_id=patient_id,
        kind=body.kind,
        model=body.model,
        serial=body.serial,
        unit=body.unit,
        sample_interval_seconds=interval,
        range_low_mg_dl=body.range_low_mg_dl,
        range_high_mg_dl=body.range_high_mg_dl,
        source="app",
        verified=verified,
        bound_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, device.id, device.patient_id
    )
    return DeviceOut.build(device, None)


async def register_devices(
    session: AsyncSession, principal: Principal, body: DeviceRegistrationBatch
) -> DeviceRegistrationReport:
    """Register serials with their pairing codes (admin: a vendor's delivery manifest or a
    clinic's hand-over list); a serial registered before keeps its code (duplicate)."""
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "created_at": now,
            "kind": item.kind,
            "model": item.model,
            "serial": item.serial,
            "pairing_code_index": blind_index(session, item.pairing_code),
            "source": body.source,
            "registered_by": principal.account_id,
        }
        for item in body.devices
    ]
    inserted = await device_repository.add_registrations(session, rows)
    await audit_service.record(
        session, principal, AuditAction.create, "device_registration", None, None
    )
    items = [
        DeviceRegistrationResult(
            kind=item.kind,
            serial=item.serial,
            status="registered" if item.serial in inserted else "duplicate",
        )
        for item in body.devices
    ]
    registered = sum(1 for item in items if item.status == "registered")
    return DeviceRegistrationReport(
        registered=registered, duplicate=len(items) - registered, items=items
    )


async def _own_device(session: AsyncSession, principal: Principal, device_id: uuid.UUID) -> Device:
    """One of the patient's bound devices, locked: its unbinding and its sensor's start and end
    sent at once are decided one after another."""
    device = await device_repository.get_visible(session, principal, device_id, utcnow(), lock=True)
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
    settings: Settings,
    patient_id: uuid.UUID,
    *,
    kind: str,
    model: str,
    serial: str,
    unit: str,
    source: str,
    sample_interval_seconds: int | None,
    range_mg_dl: tuple[float, float] | None = None,
    verified: bool = False,
) -> tuple[Device, bool]:
    """The patient's bound device with this serial, or one bound now (imports, Nightscout);
    whether it was bound now. An imported device is an unproven claim: it never takes a serial
    from anyone. Imported devices have their own cap per patient."""
    found = await device_repository.bound_of_patient(session, patient_id, kind, serial)
    if found is not None:
        return found, False
    await device_repository.lock_patient(session, patient_id)
    # Again under the lock: a concurrent request may have bound it while this one waited.
    found = await device_repository.bound_of_patient(session, patient_id, kind, serial)
    if found is not None:
        return found, False
    await _check_cap(session, settings, patient_id, kind, imported=source == "import")
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
        verified=verified,
        bound_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    return device, True


async def drop_unused(session: AsyncSession, devices: Sequence[Device]) -> None:
    """Take back devices bound for an import that kept none of their rows (nothing refers to
    them yet)."""
    for device in devices:
        await session.delete(device)
    await session.flush()
