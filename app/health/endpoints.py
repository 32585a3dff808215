"""/healthz (process alive), /readyz (database reachable, schema at head), /metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from pydantic import BaseModel

from app.db import DbSession
from app.errors import ServiceUnavailable
from app.health import migrations_state
from app.web_security import require_metrics_access

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    schema_revisions: list[str]
    expected_revisions: list[str]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up and serving."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"description": "Not ready"}})
async def readyz(session: DbSession) -> Readiness:
    """Ready when the database answers and its schema is at the migrations' head."""
    expected = list(migrations_state.head_revisions())
    try:
        current = list(await migrations_state.current_revisions(session))
    except Exception as exc:
        raise ServiceUnavailable("database_unreachable") from exc
    if current != expected:
        raise ServiceUnavailable(
            "schema_not_at_head",
            extra={"schema_revisions": current, "expected_revisions": expected},
        )
    return Readiness(
        status="ok", database="ok", schema_revisions=current, expected_revisions=expected
    )


@router.get(
    "/metrics",
    response_class=Response,
    include_in_schema=False,
    dependencies=[Depends(require_metrics_access)],
)
async def metrics() -> Response:
    """Prometheus metrics (aggregated across workers when PROMETHEUS_MULTIPROC_DIR is set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
