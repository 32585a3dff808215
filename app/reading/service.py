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
from app.models import Patient, Reading
from app.patient import repository as patient_repository
from app.reading import repository as reading_repository
from app.reading.imports import ImportDevice, UnrecognisedFile, parse_export, read_text, to_items
from app.reading.ingest import RESOURCE, ingest
from app.reading.items import parse_batch
from app.reading.schemas import ItemResult, UploadReport
from app.realtime.hub import RealtimeHub


async def upload(
    session: AsyncSession,
    settings: Settings,
    hub: RealtimeHub,
    principal: Principal,
    body: bytes,
) -> UploadReport:
    """Ingest a batch (the JSON body as sent) from the signed-in patient's phone."""
    assert principal.patient_id is not None
    try:
        parsed = parse_batch(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False), body=body) from None
    return await ingest(session, settings, hub, principal, principal.patient_id, parsed, "app")


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
    hub: RealtimeHub,
    principal: Principal,
    patient_id: uuid.UUID,
    body: bytes,
) -> UploadReport:
    """Ingest a Clarity or LibreView CSV for a patient (the patient or their doctor uploads it).

    The report is the upload report; its `index` is the line number in the file.
    """
    patient = await visible_patient(session, principal, patient_id)
    if len(body) > settings.reading_import_max_bytes:
        raise ImportTooLarge(limit=settings.reading_import_max_bytes)
    try:
        parsed = parse_export(read_text(body), ZoneInfo(patient.timezone))
    except UnrecognisedFile:
        raise ImportUnrecognised() from None
    device_ids: dict[ImportDevice, uuid.UUID] = {}
    for file_device in {row.device for row in parsed.rows}:
        device = await device_service.ensure_device(
            session,
            patient.id,
            kind="cgm",
            model=file_device.model,
            serial=file_device.serial,
            unit=file_device.unit,
            source="import",
            sample_interval_seconds=file_device.sample_interval_seconds,
        )
        device_ids[file_device] = device.id
    items = to_items(parsed, device_ids)
    lines = [row.line for row in parsed.rows]
    results: list[ItemResult] = []
    step = settings.reading_batch_max_items
    for start in range(0, len(items), step):
        report = await ingest(
            session, settings, hub, principal, patient.id, items[start : start + step], "import"
        )
        results += [r.model_copy(update={"index": lines[start + r.index]}) for r in report.items]
    return UploadReport.of(results)
