"""Gauges of state (open alerts, orders in flight, the outbox's backlog), counted when
Prometheus scrapes, by one grouped query each, at most once per cache period however many
scrapes arrive (several Prometheus servers, a storm of reloads).

With several workers (PROMETHEUS_MULTIPROC_DIR) each may count; the most recent count wins.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import structlog
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.clock import utcnow
from app.metrics import repository
from app.models.alert import ALERT_RULES
from app.models.pharmacy_order import ORDER_STATUSES

log = structlog.get_logger(__name__)

# Orders still moving; finished ones (completed, cancelled, returned) only grow in number.
OPEN_ORDER_STATUSES = tuple(
    status for status in ORDER_STATUSES if status not in ("completed", "cancelled", "returned")
)
OUTBOX_STATUSES = ("pending", "dead")

ALERTS_OPEN = Gauge(
    "alerts_open", "Unacknowledged alerts, by rule", ["rule"], multiprocess_mode="mostrecent"
)
ORDERS = Gauge(
    "pharmacy_orders_open",
    "Orders not yet finished, by status",
    ["status"],
    multiprocess_mode="mostrecent",
)
ORDER_OLDEST_AGE = Gauge(
    "pharmacy_order_oldest_age_seconds",
    "Age of the oldest order in each unfinished status (0 when there is none)",
    ["status"],
    multiprocess_mode="mostrecent",
)
OUTBOX_MESSAGES = Gauge(
    "outbox_messages",
    "Outbox messages waiting (pending) or given up (dead)",
    ["status"],
    multiprocess_mode="mostrecent",
)
OUTBOX_LAG = Gauge(
    "outbox_lag_seconds",
    "How long the most overdue pending outbox message has been due (0 when none is overdue)",
    multiprocess_mode="mostrecent",
)


def _age_seconds(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


async def measure(session: AsyncSession) -> None:
    """Count the state now and set the gauges (every known label, so a state that emptied
    reads 0 instead of its last count)."""
    alerts = await repository.open_alerts_by_rule(session)
    orders = await repository.orders_by_status(session, OPEN_ORDER_STATUSES)
    outbox = await repository.outbox_by_status(session, OUTBOX_STATUSES)
    now = utcnow()
    for rule in ALERT_RULES:
        ALERTS_OPEN.labels(rule).set(alerts.get(rule, 0))
    for status in OPEN_ORDER_STATUSES:
        backlog = orders.get(status, repository.Backlog(0, None))
        ORDERS.labels(status).set(backlog.count)
        ORDER_OLDEST_AGE.labels(status).set(_age_seconds(now, backlog.oldest))
    for status in OUTBOX_STATUSES:
        OUTBOX_MESSAGES.labels(status).set(outbox.get(status, repository.Backlog(0, None)).count)
    pending = outbox.get("pending")
    OUTBOX_LAG.set(_age_seconds(now, pending.oldest if pending else None))


class ScrapeCache:
    """Measures at most once per `max_age_seconds`; concurrent scrapes wait for one count."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._measured_at: float | None = None

    async def refresh(
        self, sessionmaker: async_sessionmaker[AsyncSession], max_age_seconds: float
    ) -> None:
        """Measure unless a measurement younger than `max_age_seconds` stands. A database that
        fails leaves the last values (the HTTP metrics are still served) and is logged."""
        async with self._lock:
            started = time.monotonic()
            if self._measured_at is not None and started - self._measured_at < max_age_seconds:
                return
            try:
                async with sessionmaker() as session:
                    await measure(session)
            except Exception:
                log.warning("domain metrics not measured", exc_info=True)
                return
            self._measured_at = started


SCRAPE_CACHE = ScrapeCache()
