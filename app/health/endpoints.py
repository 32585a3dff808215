"""/healthz (process alive), /readyz (every part the process needs is up), /metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from pydantic import BaseModel, Field

from app.db import DbSession
from app.health import readiness
from app.metrics.state import SCRAPE_CACHE
from app.web_security import require_metrics_access

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str = Field(description="ok: answers and its schema is at the migrations' head")
    redis: str = Field(description="ok, or not_configured without REDIS_URL")
    realtime: str = Field(description="ok: new sockets can register for events")
    outbox_relay: str = Field(description="ok, or disabled (OUTBOX_RELAY_ENABLED=false)")
    background_jobs: str = Field(description="ok, or disabled (BACKGROUND_JOBS_ENABLED=false)")
    schema_revisions: list[str]
    expected_revisions: list[str]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            "description": "Not ready: `code` names the first part that is down and "
            "`parts` gives the state of each"
        }
    },
)
async def readyz(session: DbSession, request: Request) -> Readiness:
    """Ready when every part this process needs is up: the database at the migrations' head,
    Redis reachable and the realtime listener subscribed (with REDIS_URL), the outbox relay and
    the periodic jobs running (where enabled)."""
    ready = await readiness.check(session, request.app.state)
    revisions = {
        "schema_revisions": ready.schema_revisions,
        "expected_revisions": ready.expected_revisions,
    }
    if ready.problem is not None:
        raise readiness.NotReady(ready.problem, extra={"parts": ready.parts, **revisions})
    return Readiness(status="ok", **ready.parts, **revisions)


@router.get(
    "/metrics",
    response_class=Response,
    include_in_schema=False,
    dependencies=[Depends(require_metrics_access)],
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (aggregated across workers when PROMETHEUS_MULTIPROC_DIR is set),
    the domain gauges counted afresh when their last count is older than
    METRICS_STATE_MAX_AGE_SECONDS."""
    state = request.app.state
    await SCRAPE_CACHE.refresh(state.sessionmaker, state.settings.metrics_state_max_age_seconds)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
