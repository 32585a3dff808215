"""Device endpoints: patients bind devices and run sensors; doctors see their patients' devices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, status

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.device import service as device_service
from app.device.schemas import (
    DeviceCreate,
    DeviceOut,
    DeviceRegistrationBatch,
    DeviceRegistrationReport,
    SensorSessionOut,
    SensorSessionStart,
)
from app.kit.pagination import Page, PageQuery
from app.models import Role

router = APIRouter(prefix="/api/v1", tags=["devices"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
AdminOnly = Annotated[Principal, require_roles(Role.admin)]


@router.post("/devices", response_model=DeviceOut, status_code=status.HTTP_201_CREATED)
async def bind_device(
    body: DeviceCreate, principal: PatientOnly, session: DbSession, request: Request
) -> DeviceOut:
    """Bind a wearable to my account (binding the same serial again returns it).

    A serial registered by its vendor or clinic needs its `pairing_code`; an unregistered one
    binds as an unproven claim (`verified: false`) that the owner's proven binding ends."""
    return await device_service.bind_device(session, principal, request.app.state.settings, body)


def _by_binding(d: DeviceOut) -> tuple[datetime, uuid.UUID]:
    return (d.bound_at, d.id)


@router.get("/devices", response_model=Page[DeviceOut])
async def list_my_devices(
    principal: PatientOnly, session: DbSession, page: PageQuery
) -> Page[DeviceOut]:
    """My bound devices, in the order I bound them."""
    assert principal.patient_id is not None
    devices = await device_service.list_devices(session, principal, principal.patient_id)
    return page.page_of_all(devices, _by_binding, datetime, uuid.UUID)


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unbind_device(device_id: uuid.UUID, principal: PatientOnly, session: DbSession) -> None:
    """Unbind one of my devices; its readings stay."""
    await device_service.unbind_device(session, principal, device_id)


@router.post(
    "/devices/{device_id}/sensor-sessions",
    response_model=SensorSessionOut,
    status_code=status.HTTP_201_CREATED,
)
async def start_sensor(
    device_id: uuid.UUID, body: SensorSessionStart, principal: PatientOnly, session: DbSession
) -> SensorSessionOut:
    """Start a new sensor on my CGM (about 14 days)."""
    sensor = await device_service.start_sensor(session, principal, device_id, body)
    return SensorSessionOut.model_validate(sensor)


@router.post("/devices/{device_id}/sensor-sessions/end", response_model=SensorSessionOut)
async def end_sensor(
    device_id: uuid.UUID, principal: PatientOnly, session: DbSession
) -> SensorSessionOut:
    """End the sensor running on my CGM."""
    sensor = await device_service.end_sensor(session, principal, device_id)
    return SensorSessionOut.model_validate(sensor)


@router.get("/patients/{patient_id}/devices", response_model=Page[DeviceOut])
async def list_patient_devices(
    patient_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[DeviceOut]:
    """A patient's devices in binding order (the patient, or a doctor caring for them; else
    404)."""
    devices = await device_service.list_devices(session, principal, patient_id)
    return page.page_of_all(devices, _by_binding, datetime, uuid.UUID)


@router.post("/device-registrations", response_model=DeviceRegistrationReport)
async def register_devices(
    body: DeviceRegistrationBatch, principal: AdminOnly, session: DbSession
) -> DeviceRegistrationReport:
    """Register serials handed out in the pilot with their pairing codes (admin: a vendor's
    delivery manifest or a clinic's hand-over list); per device: registered or duplicate."""
    return await device_service.register_devices(session, principal, body)
