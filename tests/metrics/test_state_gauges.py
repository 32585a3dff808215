"""Gauges of state counted at scrape time (open alerts, the outbox's backlog), their cache, and
the Grafana dashboard that draws every domain metric."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.clock import utcnow
from app.metrics.state import ScrapeCache, measure
from app.models import Alert, Role
from app.outbox import service as outbox_service
from tests.fixtures import factories
from tests.fixtures.metrics import gauge
from tests.fixtures.servers import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "ops" / "grafana" / "chronic-care.json"


async def test_open_alerts_are_counted_by_rule_until_acknowledged(db_session: AsyncSession) -> None:
    patient = await factories.patient_of(
        db_session, await factories.account(db_session, Role.patient)
    )
    await measure(db_session)
    before = gauge("alerts_open", rule="urgent_low")
    alert = Alert(
        patient_id=patient.id, rule="urgent_low", level=3, measured_at=utcnow(), value=45.0
    )
    db_session.add(alert)
    await db_session.flush()

    await measure(db_session)
    assert gauge("alerts_open", rule="urgent_low") == before + 1

    alert.acknowledged_at = utcnow()
    await db_session.flush()
    await measure(db_session)
    assert gauge("alerts_open", rule="urgent_low") == before


async def test_the_outbox_backlog_and_its_lag_are_measured(db_session: AsyncSession) -> None:
    await measure(db_session)
    pending = gauge("outbox_messages", status="pending")
    due = utcnow() - timedelta(minutes=10)
    await outbox_service.enqueue(db_session, "test.gauge", {}, f"gauge-{uuid.uuid4()}", due)
    await db_session.flush()

    await measure(db_session)
    assert gauge("outbox_messages", status="pending") == pending + 1
    assert gauge("outbox_lag_seconds") >= 600


class _CountingSessions:
    """A sessionmaker that counts the sessions asked of it (each is one measurement)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], fail: bool = False) -> None:
        self._sessionmaker = sessionmaker
        self._fail = fail
        self.opened = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        self.opened += 1
        if self._fail:
            raise ConnectionRefusedError("database down")
        async with self._sessionmaker() as session:
            yield session


async def test_a_scrape_storm_counts_in_the_database_once_per_cache_period(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    sessions = _CountingSessions(sessionmaker)
    cache = ScrapeCache()
    await asyncio.gather(*(cache.refresh(sessions, 60) for _ in range(5)))  # type: ignore[arg-type]
    assert sessions.opened == 1
    await cache.refresh(sessions, 60)  # type: ignore[arg-type]
    assert sessions.opened == 1
    await cache.refresh(sessions, 0)  # type: ignore[arg-type]
    assert sessions.opened == 2


async def test_a_database_that_fails_leaves_the_last_values_and_is_tried_again(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    failing = _CountingSessions(sessionmaker, fail=True)
    cache = ScrapeCache()
    await cache.refresh(failing, 60)  # type: ignore[arg-type]
    await cache.refresh(failing, 60)  # type: ignore[arg-type]
    assert failing.opened == 2  # a failed count is not cached


async def test_the_metrics_endpoint_serves_the_domain_gauges(client) -> None:
    body = (await client.get("/metrics")).text
    for name in ("alerts_open{", "pharmacy_orders_open{", "outbox_messages{", "outbox_lag_seconds"):
        assert name in body


# --- The Grafana dashboard ---------------------------------------------------------------------

_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def _exposed_names() -> set[str]:
    """Every series name the app's registry can expose (labelled metrics included before any
    label set was used)."""
    import app.main  # noqa: F401 - every module that defines a metric

    families: list[Metric] = list(REGISTRY.collect())
    return {
        family.name + suffix for family in families for suffix in _SUFFIXES.get(family.type, ("",))
    }


def _metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: label matchers, grouping clauses, ranges and
    strings removed, function names (followed by a parenthesis) and keywords left out."""
    stripped = re.sub(r'"[^"]*"', "", expr)
    stripped = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    words = re.findall(r"\b[A-Za-z_:][A-Za-z0-9_:]*\b(?!\s*\()", stripped)
    return {word for word in words if word not in _PROMQL_WORDS and not re.fullmatch(r"\d+", word)}


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_expression_reader_finds_metrics_and_skips_functions_and_labels() -> None:
    expr = 'sum by (kind) (rate(readings_stored_total{kind!="bp"}[5m])) / max(up)'
    assert _metric_names(expr) == {"readings_stored_total", "up"}


def test_the_dashboard_draws_only_metrics_the_app_exposes() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exposed = _exposed_names()
    used: set[str] = set()
    for expr in _exprs(dashboard):
        names = _metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exposed, f"{expr!r} reads {names - exposed}, which the app never exposes"
        used |= names
    domain = {
        "readings_stored_total",
        "readings_rejected_total",
        "alerts_open",
        "pharmacy_orders_open",
        "pharmacy_order_oldest_age_seconds",
        "outbox_lag_seconds",
        "outbox_messages",
        "outbox_deliveries_total",
        "insurance_settlements_total",
        "insurance_settled_fen_total",
        "realtime_connections",
    }
    assert domain <= used, f"not on the dashboard: {domain - used}"


@pytest.mark.parametrize("field", ["title", "uid", "panels"])
def test_the_dashboard_is_a_grafana_dashboard(field: str) -> None:
    assert json.loads(DASHBOARD.read_text(encoding="utf-8"))[field]
