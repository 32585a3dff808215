"""ECG strip endpoints: the patient's upload; reading a strip, its image and its FHIR form."""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from app.analytics.chart_cache import chart_cache
from app.analytics.charts import MEDIA_TYPES, image_key
from app.analytics.endpoints import IMAGE_RESPONSES, ImageFormat, matches
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.ecg import chart as ecg_chart
from app.ecg import service as ecg_service
from app.ecg.fhir import strip_observation
from app.ecg.schemas import EcgStripOut, EcgStripPage, EcgUploadOut
from app.kit.time_bounds import Instant
from app.models import Role

router = APIRouter(prefix="/api/v1", tags=["ecg"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": (
            "One single-lead strip: a FHIR R4 Observation with the waveform as SampledData "
            "(`valueSampledData`, or one component coded with its lead), or the Apple Watch ECG "
            "export as the iPhone Health app writes it (electrocardiograms/ecg_<date>.csv)"
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
    body = await request.body()
    stored = await ecg_service.upload(
        session,
        state.settings,
        state.blobs,
        state.hub,
        principal,
        request.headers.get("content-type"),
        body,
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
    before: Instant | None = Query(default=None, description="Page: recorded before this time"),
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EcgStripPage:
    """A patient's strips, newest first (the patient, or a doctor caring for them)."""
    strips = await ecg_service.list_strips(session, principal, patient_id, before, limit)
    items = [EcgStripOut.build(s) for s in strips]
    return EcgStripPage(
        items=items, next_before=items[-1].recorded_at if len(items) == limit else None
    )


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
    etag = f'"{image_key(spec, image_format)}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Vary": "Accept-Language",
    }
    if if_none_match is not None and matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    image = await chart_cache(request.app.state).image(
        etag, partial(asyncio.to_thread, ecg_chart.render, spec, image_format)
    )
    return Response(image, media_type=MEDIA_TYPES[image_format], headers=headers)


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
