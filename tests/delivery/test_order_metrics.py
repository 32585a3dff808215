"""Unfinished orders are counted by status at scrape time, with the age of the oldest."""

from __future__ import annotations

import uuid
from datetime import timedelta

from prometheus_client import REGISTRY

from app.kit.clock import utcnow
from app.metrics.state import measure
from app.models import PharmacyOrder
from tests.prescription.world import World, ordered


def _gauge(name: str, status: str) -> float:
    value = REGISTRY.get_sample_value(name, {"status": status})
    assert value is not None, f"{name}{{status={status}}} not exposed"
    return value


async def test_an_order_counts_in_its_status_and_its_age_shows(
    client, world: World, db_session
) -> None:
    await measure(db_session)
    order = await ordered(client, world)
    status = order["status"]
    row = await db_session.get(PharmacyOrder, uuid.UUID(order["id"]))
    assert row is not None
    # Measured against everything else unfinished in this database: the new order counts once.
    counted_before = _gauge("pharmacy_orders_open", status)
    await measure(db_session)
    assert _gauge("pharmacy_orders_open", status) == counted_before + 1

    row.created_at = utcnow() - timedelta(hours=30)
    await db_session.flush()
    await measure(db_session)
    assert _gauge("pharmacy_order_oldest_age_seconds", status) >= 30 * 3600
