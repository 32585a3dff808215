"""ECG strip endpoints: the patient's upload; reading a strip, its image and its FHIR form."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

import app.ecg.messages  # noqa: F401 - registers this package's message codes
from app.analytics.endpoints import IMAGE_RESPONSES, ImageFormat, image_response
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.ecg import chart as ecg_chart
from app.ecg import service as ecg_service
from app.ecg.fhir import strip_observation
from app.ecg.schemas import EcgStripOut, EcgStripPage, EcgUploadOut
from app.kit.pagination import PageQuery
from app.models import Role
from app.request_bodies import FILE_FORM, uploaded_file

router = APIRouter(prefix="/api/v1", tags=["ecg"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            # The mini-program's wx.uploadFile: the part's type, else its name's (.json, .csv).
            **FILE_FORM,
        },
        "description": (
            "One single-lead strip: a FHIR R4 Observation with the waveform as SampledData "
            "(`valueSampledData`, or one component coded with its lead), or the Apple Watch ECG "
            "export as the iPhone Health app writes it (electrocardiograms/ecg_<date>.csv); as "
            "the raw body, or as the `file` part of a multipart form (wx.uploadFile)"
        ),
    }
}


@router.post(
    "/ecg-strips",
    response_model=EcgUploadOut,
    status_code=201,
    responses={200: {"model": EcgUploadOut, "description": "A duplicate: stored before"}},
    openapi_extra=_UPLOAD_BODY,
)
async def upload_strip(
    principal: PatientOnly,
    session: DbSession,
    request: Request,
    device_id: Annotated[
        uuid.UUID | None,
        Query(
            description="My bound ECG device (FHIR: else Observation.device `Device/<id>`; "
            "Apple export: else the watch it names)"
        ),
    ] = None,
) -> Response:
    """Upload one ECG strip of mine; heart rate, R-R intervals and rhythm are computed.

    The same strip again (same device and start time) answers 200 `duplicate`; different
    samples under that device and time answer 409. Irregular rhythm alerts my doctors."""
    state = request.app.state
    upload = await uploaded_file(request, state.settings.ecg_upload_max_bytes)
    stored = await ecg_service.upload(
        session,
        state.settings,
        state.blobs,
        state.hub,
        principal,
        upload.content_type,
        upload.data,
        device_id,
    )
    out = EcgUploadOut(
        **EcgStripOut.build(stored.strip).model_dump(),
        status="accepted" if stored.created else "duplicate",
    )
    return Response(
        out.model_dump_json(),
        status_code=201 if stored.created else 200,
        media_type="application/json",
    )


@router.get("/patients/{patient_id}/ecg-strips", response_model=EcgStripPage)
async def list_strips(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
) -> EcgStripPage:
    """A patient's strips, newest first (the patient, or a doctor caring for them)."""
    resume = page.after(datetime)
    strips = await ecg_service.list_strips(
        session, principal, patient_id, resume[0] if resume else None, page.limit
    )
    items = [EcgStripOut.build(s) for s in strips]
    return page.page_as(EcgStripPage, items, lambda s: (s.recorded_at,))


@router.get("/ecg-strips/{strip_id}", response_model=EcgStripOut)
async def read_strip(
    strip_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> EcgStripOut:
    """A strip's metadata and analysis (the patient, or a doctor caring for them)."""
    return EcgStripOut.build(await ecg_service.read_strip(session, principal, strip_id))


@router.get(
    "/ecg-strips/{strip_id}/strip.{image_format}",
    response_class=Response,
    responses=IMAGE_RESPONSES,
)
async def strip_image(
    strip_id: uuid.UUID,
    image_format: ImageFormat,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    if_none_match: Annotated[
        str | None, Header(description="ETags of images held; 304 if the strip is one of them")
    ] = None,
) -> Response:
    """The strip at 25 mm/s and 10 mm/mV on 1 mm / 5 mm grid paper, in Chinese (English with
    `Accept-Language: en`), with an `ETag` (304 on `If-None-Match`) like the AGP chart."""
    strip, patient, samples = await ecg_service.read_samples(
        session, request.app.state.blobs, principal, strip_id
    )
    spec = await asyncio.to_thread(
        ecg_chart.strip_spec, strip, samples, patient.name, patient.timezone
    )
    return await image_response(request, spec, image_format, if_none_match, ecg_chart.render)


@router.get(
    "/ecg-strips/{strip_id}/fhir",
    responses={200: {"content": {"application/fhir+json": {}}}},
    response_class=Response,
)
async def strip_fhir(
    strip_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, request: Request
) -> Response:
    """The strip as a FHIR R4 Observation (SampledData waveform, LOINC-coded results)."""
    strip, _, samples = await ecg_service.read_samples(
        session, request.app.state.blobs, principal, strip_id
    )
    body = strip_observation(strip, samples, {"reference": f"Patient/{strip.patient_id}"})
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/fhir+json")
