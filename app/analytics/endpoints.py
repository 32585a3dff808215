"""Analytics endpoints: CGM and BP summaries, chart images, FHIR export, the doctor's panel."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from app.analytics import chart_drawing, charts
from app.analytics import service as analytics_service
from app.analytics.chart_cache import chart_cache
from app.analytics.chart_renderer import ChartRenderer, Draw
from app.analytics.fhir import bundle
from app.analytics.panel import doctor_panel
from app.analytics.schemas import (
    BpSummaryOut,
    CgmSummaryOut,
    PanelOut,
    SleepPeriodIn,
    SleepPeriodOut,
)
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.kit.pagination import Page, PageQuery
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
    """Blood pressure as the clinic reads it: artefact editing; the ABPM (awake / asleep / 24 h
    statistics by the wake flags, the sleep diary or the fixed windows, dipping, nocturnal
    hypertension, morning surge, validity, thresholds); the home-BP protocol; the office grade;
    and the white-coat / masked / sustained phenotype."""
    settings = request.app.state.settings
    view = await analytics_service.bp_view(session, settings, principal, patient_id, end_date, days)
    return view.summary


@router.post(
    "/patients/{patient_id}/bp-sleep-periods",
    response_model=SleepPeriodOut,
    status_code=201,
    responses={
        200: {"model": SleepPeriodOut, "description": "The same period was stored already"},
        409: {"description": "sleep_period_conflict or sleep_period_overlaps"},
    },
)
async def add_sleep_period(
    patient_id: uuid.UUID,
    body: SleepPeriodIn,
    principal: CurrentPrincipal,
    session: DbSession,
    response: Response,
) -> SleepPeriodOut:
    """A night of the sleep diary (bed and rise time) from the patient or the recorder: the
    BP summary then tells asleep from awake readings by it. Sending the same night again is
    safe (200 with the stored one)."""
    period, created = await analytics_service.record_sleep_period(
        session, principal, patient_id, body
    )
    if not created:
        response.status_code = 200
    return SleepPeriodOut.build(period)


@router.get("/patients/{patient_id}/bp-sleep-periods", response_model=Page[SleepPeriodOut])
async def sleep_periods(
    patient_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    end_date: EndDate = None,
    days: Days = 7,
) -> Page[SleepPeriodOut]:
    """The diary nights overlapping the period, by bed time."""
    found = await analytics_service.list_sleep_periods(
        session, principal, patient_id, end_date, days
    )
    items = [SleepPeriodOut.build(p) for p in found]
    return page.page_of_all(items, lambda p: (p.bed_at, p.id), datetime, uuid.UUID)


_CHART_HEADERS = {
    "ETag": {
        "description": "Strong validator of the image: a hash of everything it shows",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "schema": {"type": "string", "example": "private, max-age=0, must-revalidate"}
    },
}
IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/svg+xml": {}, "image/png": {}},
        "description": "The chart",
        "headers": _CHART_HEADERS,
    },
    304: {
        "description": "Not modified: the image is still the one whose ETag came in "
        "If-None-Match (nothing is rendered; access is checked as for 200)",
        "headers": _CHART_HEADERS,
    },
}


def matches(if_none_match: str, etag: str) -> bool:
    # If-None-Match compares weakly (RFC 9110 13.1.2): a W/ prefix does not matter.
    tags = (tag.strip() for tag in if_none_match.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


async def image_response(
    request: Request,
    spec: Any,
    image_format: ImageFormat,
    if_none_match: str | None,
    render: Draw,
) -> Response:
    """A chart image with its ETag (a hash of everything it shows, language included): 304 when
    the client holds it, else rendered once per ETag (the chart cache) in a renderer process
    (`app.state.chart_renderer`), off the event loop."""
    etag = f'"{charts.image_key(spec, image_format)}"'
    headers = {
        "ETag": etag,
        "Cache-Control": "private, max-age=0, must-revalidate",
        "Vary": "Accept-Language",
    }
    if if_none_match is not None and matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    renderer: ChartRenderer = request.app.state.chart_renderer
    image = await chart_cache(request.app.state).image(
        etag, partial(renderer.render, render, spec, image_format)
    )
    return Response(image, media_type=charts.MEDIA_TYPES[image_format], headers=headers)


@router.get(
    "/patients/{patient_id}/charts/{chart}.{image_format}",
    response_class=Response,
    responses=IMAGE_RESPONSES,
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
    if_none_match: Annotated[
        str | None, Header(description="ETags of images held; 304 if the chart is one of them")
    ] = None,
) -> Response:
    """A chart image in Chinese (English with `Accept-Language: en`): `agp` (percentile
    bands, target range, metric panel) or `bp-trend` (readings, daily means, thresholds).

    Each image carries an `ETag`; sent back in `If-None-Match`, it gets `304` while the chart
    would look the same."""
    settings = request.app.state.settings
    spec: chart_drawing.AgpSpec | chart_drawing.BpSpec
    if chart == "agp":
        cgm = await analytics_service.cgm_view(
            session, settings, principal, patient_id, end_date, days
        )
        spec = charts.agp_spec(cgm.summary, cgm.patient.name)
    else:
        bp = await analytics_service.bp_view(
            session, settings, principal, patient_id, end_date, days
        )
        spec = charts.bp_spec(bp.summary, bp.points, bp.patient.name, settings)
    # Only now: the views above answered 404 to whoever may not see the patient.
    return await image_response(request, spec, image_format, if_none_match, chart_drawing.render)


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
    """The patient's readings and CGM summary as a FHIR R4 Bundle of Observations: CGM readings
    and the summary as the HL7 CGM guide profiles them (no summary without CGM data), blood
    pressure and the pulse recorded with it as vital signs."""
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
async def panel(
    principal: DoctorOnly, session: DbSession, request: Request, page: PageQuery
) -> Response:
    """My patients, most urgent first, with latest values and 14-day summaries."""
    every = await doctor_panel(session, request.app.state.settings, principal)
    # Computed whole, most urgent first: a page resumes after the cursor's patient.
    found = page.page_in_order(every.items, lambda e: e.patient_id)
    body = PanelOut(
        start_date=every.start_date, end_date=every.end_date, items=found.items, next=found.next
    )
    # Built from validated parts; serialised once (200 patients make a large body).
    return Response(body.model_dump_json(), media_type="application/json")
