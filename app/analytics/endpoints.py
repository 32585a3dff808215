"""Analytics endpoints: CGM and BP summaries, chart images, FHIR export, the doctor's panel."""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.analytics import charts
from app.analytics import service as analytics_service
from app.analytics.fhir import bundle
from app.analytics.panel import doctor_panel
from app.analytics.schemas import BpSummaryOut, CgmSummaryOut, PanelOut
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.kit.time_bounds import CalendarDate
from app.models import Role
from app.reading import service as reading_service
from app.reading.validation import KINDS_BY_DEVICE

router = APIRouter(prefix="/api/v1", tags=["analytics"])

DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
EndDate = Annotated[
    CalendarDate | None, Query(description="Last local day of the period (default today)")
]
Days = Annotated[int, Query(ge=1, le=90, description="Local days in the period")]
ImageFormat = Literal["svg", "png"]
Chart = Literal["agp", "bp-trend"]
ALL_KINDS = sorted({kind for kinds in KINDS_BY_DEVICE.values() for kind in kinds})


@router.get("/patients/{patient_id}/cgm-summary", response_model=CgmSummaryOut)
async def cgm_summary(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    end_date: EndDate = None,
    days: Days = 14,
) -> CgmSummaryOut:
    """Consensus CGM metrics, episodes and AGP percentiles in the patient's local time."""
    settings = request.app.state.settings
    view = await analytics_service.cgm_view(
        session, settings, principal, patient_id, end_date, days
    )
    return view.summary


@router.get("/patients/{patient_id}/bp-summary", response_model=BpSummaryOut)
async def bp_summary(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    end_date: EndDate = None,
    days: Days = 7,
) -> BpSummaryOut:
    """24-hour, day and night means, night dipping, load, Chinese grade and ABPM validity."""
    settings = request.app.state.settings
    view = await analytics_service.bp_view(session, settings, principal, patient_id, end_date, days)
    return view.summary


_IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/svg+xml": {}, "image/png": {}}, "description": "The chart"}
}


@router.get(
    "/patients/{patient_id}/charts/{chart}.{image_format}",
    response_class=Response,
    responses=_IMAGE_RESPONSES,
)
async def chart(
    patient_id: uuid.UUID,
    chart: Chart,
    image_format: ImageFormat,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    end_date: EndDate = None,
    days: Days = 14,
) -> Response:
    """A chart image in Chinese: `agp` (percentile bands, target range, metric panel) or
    `bp-trend` (readings, daily means, thresholds)."""
    settings = request.app.state.settings
    if chart == "agp":
        cgm = await analytics_service.cgm_view(
            session, settings, principal, patient_id, end_date, days
        )
        render = partial(charts.agp_chart, cgm.summary, cgm.patient.name)
    else:
        bp = await analytics_service.bp_view(
            session, settings, principal, patient_id, end_date, days
        )
        render = partial(charts.bp_chart, bp.summary, bp.points, bp.patient.name)
    image = await asyncio.to_thread(render, settings, image_format)
    return Response(image, media_type=charts.MEDIA_TYPES[image_format])


@router.get(
    "/patients/{patient_id}/fhir",
    responses={200: {"content": {"application/fhir+json": {}}}},
    response_class=Response,
)
async def fhir_export(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    request: Request,
    end_date: EndDate = None,
    days: Days = 14,
) -> Response:
    """The patient's readings and CGM summary as a FHIR R4 Bundle of Observations."""
    settings = request.app.state.settings
    view = await analytics_service.cgm_view(
        session, settings, principal, patient_id, end_date, days
    )
    period = view.period
    readings = await reading_service.list_readings(
        session, principal, patient_id, ALL_KINDS, period.start, period.end, limit=200_000
    )
    body = bundle(view.patient.id, view.patient.name, list(reversed(readings)), view.summary)
    return Response(json.dumps(body, ensure_ascii=False), media_type="application/fhir+json")


@router.get("/panel", response_model=PanelOut)
async def panel(principal: DoctorOnly, session: DbSession, request: Request) -> Response:
    """My patients, most urgent first, with latest values and 14-day summaries."""
    body = await doctor_panel(session, request.app.state.settings, principal)
    # Built from validated parts; serialised once (200 patients make a large body).
    return Response(body.model_dump_json(), media_type="application/json")
