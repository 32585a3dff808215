"""Reading endpoints: the phone's batch upload, CSV import, and reading a patient's readings."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.kit.clock import utcnow
from app.kit.pagination import PageParams, page_query
from app.kit.time_bounds import Instant
from app.models import Role
from app.reading import service as reading_service
from app.reading.schemas import ReadingBatch, ReadingKind, ReadingOut, ReadingPage, UploadReport
from app.request_bodies import FILE_FORM, require_json, uploaded_file

# Readings are small rows that charts read by the thousand: larger pages than other lists.
ReadingsPageQuery = Annotated[PageParams, Depends(page_query(500, 5000))]

router = APIRouter(prefix="/api/v1", tags=["readings"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            # The Sibionics app's workbook (an .xlsx the app names .xls), sent as it is.
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            # The mini-program's wx.uploadFile.
            **FILE_FORM,
        },
        "description": (
            "A wearable export as the vendor writes it: Dexcom Clarity CSV (mg/dL or mmol/L), "
            "LibreView CSV (Libre 1/2/3, LibreLink or Libre app, any unit and date format) or "
            "the Sibionics (SiSensing) app's workbook; as the raw body, or as the `file` part "
            "of a multipart form (wx.uploadFile)"
        ),
    }
}


@router.post(
    "/readings",
    response_model=UploadReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ReadingBatch.model_json_schema()}},
        }
    },
)
async def upload_readings(principal: PatientOnly, session: DbSession, request: Request) -> Response:
    """Upload a batch from my phone; the report says per item: accepted, duplicate or rejected.

    Re-uploading the same or an overlapping batch is safe: stored items come back as duplicates.
    """
    # The body is parsed and validated in one pass from its bytes (see reading.items).
    require_json(request)
    state = request.app.state
    body = await request.body()
    report = await reading_service.upload(session, state.settings, principal, body)
    # Serialised once by pydantic-core: the report of a large batch is the bulk of the reply.
    return Response(report.model_dump_json(), media_type="application/json")


@router.post(
    "/patients/{patient_id}/readings/import",
    response_model=UploadReport,
    openapi_extra=_CSV_BODY,
)
async def import_readings(
    patient_id: uuid.UUID, principal: PatientOrDoctor, session: DbSession, request: Request
) -> UploadReport:
    """Import a CGM export file for a patient (the patient or their doctor); report by file line.

    The file is history: rows up to `READING_IMPORT_HISTORY_DAYS` old are kept, raise no live
    alert, and a device is bound only when some of its rows were kept."""
    state = request.app.state
    upload = await uploaded_file(request, state.settings.reading_import_max_bytes)
    return await reading_service.import_export(
        session, state.settings, principal, patient_id, upload.data
    )


@router.get("/patients/{patient_id}/readings", response_model=ReadingPage)
async def list_readings(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: ReadingsPageQuery,
    kind: Annotated[list[ReadingKind] | None, Query()] = None,
    since: Instant | None = Query(default=None, description="Default: 14 days ago"),
    until: Instant | None = Query(default=None, description="Default: now (exclusive)"),
) -> ReadingPage:
    """A patient's readings, newest first (the patient, or a doctor caring for them); pages of
    500 by default, at most 5000."""
    now = utcnow()
    kinds = kind or ["cgm", "scan", "bg", "bp", "hr", "ecg"]
    resume = page.after(datetime)
    end = resume[0] if resume else until or now + timedelta(days=1)
    start = since or now - timedelta(days=14)
    readings = await reading_service.list_readings(
        session, principal, patient_id, kinds, start, end, page.limit
    )
    items = [ReadingOut.build(r) for r in readings]
    return page.page_as(ReadingPage, items, lambda r: (r.measured_at,))
