"""Rules for uploading and reading a patient's readings (scoped and audited)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device import service as device_service
from app.errors import AppError, NotFound
from app.models import Device, Patient, Reading
from app.patient import repository as patient_repository
from app.reading import repository as reading_repository
from app.reading.imports import ImportDevice, UnrecognisedFile, parse_export, to_items
from app.reading.ingest import RESOURCE, ingest
from app.reading.items import GlucoseItem, parse_batch
from app.reading.schemas import ItemResult, UploadReport


async def upload(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    body: bytes,
) -> UploadReport:
    """Ingest a batch (the JSON body as sent) from the signed-in patient's phone."""
    assert principal.patient_id is not None
    try:
        parsed = parse_batch(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False), body=body) from None
    return await ingest(session, settings, principal, principal.patient_id, parsed, "app")


async def visible_patient(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> Patient:
    """The patient if the caller may see them (the patient, or a doctor in care), else 404."""
    patient = await patient_repository.get_visible(session, principal, patient_id)
    if patient is None:
        raise NotFound()
    return patient


async def list_readings(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID,
    kinds: Sequence[str],
    since: datetime,
    before: datetime,
    limit: int,
) -> Sequence[Reading]:
    """A page of a patient's readings, newest first; one audit event for the page."""
    patient = await visible_patient(session, principal, patient_id)
    readings = await reading_repository.page(session, patient.id, kinds, since, before, limit)
    await audit_service.record(session, principal, AuditAction.read, RESOURCE, None, patient.id)
    return readings


class ImportTooLarge(AppError):
    status = 413
    code = "reading_import_too_large"


class ImportUnrecognised(AppError):
    status = 422
    code = "reading_import_unrecognised"


async def import_export(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patient_id: uuid.UUID,
    body: bytes,
) -> UploadReport:
    """Ingest a wearable export file for a patient (the patient or their doctor uploads it).

    The file is history: rows up to `READING_IMPORT_HISTORY_DAYS` old are kept and raise no live
    alert. A device the file names is bound (as the patient's imported device) only if some of
    its rows were kept. The report is the upload report; its `index` is the line in the file.
    """
    patient = await visible_patient(session, principal, patient_id)
    if len(body) > settings.reading_import_max_bytes:
        raise ImportTooLarge(limit=settings.reading_import_max_bytes)
    try:
        parsed = parse_export(body, ZoneInfo(patient.timezone))
    except UnrecognisedFile:
        raise ImportUnrecognised() from None
    if len(parsed.rows) > settings.reading_import_max_rows:
        raise ImportTooLarge("reading_import_too_many_rows", limit=settings.reading_import_max_rows)
    file_devices = list(dict.fromkeys(row.device for row in parsed.rows))
    if len(file_devices) > settings.reading_import_max_devices:
        raise ImportTooLarge(
            "reading_import_too_many_devices", limit=settings.reading_import_max_devices
        )
    device_ids: dict[ImportDevice, uuid.UUID] = {}
    bound_now: dict[uuid.UUID, Device] = {}
    for file_device in file_devices:
        device, new = await device_service.ensure_device(
            session,
            settings,
            patient.id,
            kind="cgm",
            model=file_device.model,
            serial=file_device.serial,
            unit=file_device.unit,
            source="import",
            sample_interval_seconds=file_device.sample_interval_seconds,
            range_mg_dl=file_device.range_mg_dl,
        )
        device_ids[file_device] = device.id
        if new:
            bound_now[device.id] = device
    items = to_items(parsed, device_ids)
    lines = [row.line for row in parsed.rows]
    results: list[ItemResult] = []
    kept: set[uuid.UUID] = set()
    step = settings.reading_batch_max_items
    for start in range(0, len(items), step):
        chunk = items[start : start + step]
        report = await ingest(
            session, settings, principal, patient.id, chunk, "import", history=True
        )
        for result in report.items:
            item = chunk[result.index]
            if result.status != "rejected" and isinstance(item, GlucoseItem):
                kept.add(item.device_id)
        results += [r.model_copy(update={"index": lines[start + r.index]}) for r in report.items]
    unused = [device for device_id, device in bound_now.items() if device_id not in kept]
    if unused:
        await device_service.drop_unused(session, unused)
    return UploadReport.of(results)
