"""Unfinished orders are counted by status at scrape time, with the age of the oldest."""

from __future__ import annotations

import uuid
from datetime import timedelta

from app.kit.clock import utcnow
from app.metrics.state import measure
from app.models import PharmacyOrder
from tests.fixtures.metrics import gauge
from tests.prescription.world import World, ordered


async def test_an_order_counts_in_its_status_and_its_age_shows(
    client, world: World, db_session
) -> None:
    await measure(db_session)
    order = await ordered(client, world)
    status = order["status"]
    row = await db_session.get(PharmacyOrder, uuid.UUID(order["id"]))
    assert row is not None
    # The gauge still holds the count measured before the order: measured again, one more.
    counted_before = gauge("pharmacy_orders_open", status=status)
    await measure(db_session)
    assert gauge("pharmacy_orders_open", status=status) == counted_before + 1

    row.created_at = utcnow() - timedelta(hours=30)
    await db_session.flush()
    await measure(db_session)
    assert gauge("pharmacy_order_oldest_age_seconds", status=status) >= 30 * 3600
