"""Boxes sold before the box history existed become the first facts of their history: the
migration's backfill statement, run against boxes sold the old way (no facts written)."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

from sqlalchemy import select, text

from app.kit.clock import utcnow
from app.models import DispensedBox, TraceabilityEvent
from tests.prescription.world import World, ordered, trace_code

MIGRATION = Path(__file__).parents[2] / "migrations" / "versions" / "20261206_0012_custody.py"


def _backfill_statement() -> str:
    spec = importlib.util.spec_from_file_location("custody_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._BACKFILL)


async def test_boxes_sold_before_the_migration_get_their_scan_facts(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    drug_id = world.drugs.metformin.id
    store_scan, partner_scan = trace_code(), trace_code()
    for code, by in ((store_scan, world.pharmacist_account.id), (partner_scan, None)):
        db_session.add(
            DispensedBox(
                code=code,
                order_id=uuid.UUID(order["id"]),
                drug_id=drug_id,
                scanned_by_account_id=by,
                scanned_at=utcnow(),
            )
        )
    await db_session.flush()
    await db_session.execute(text(_backfill_statement()))
    facts = (
        await db_session.execute(
            select(
                TraceabilityEvent.code,
                TraceabilityEvent.event,
                TraceabilityEvent.actor_kind,
                TraceabilityEvent.actor_name,
            ).order_by(TraceabilityEvent.code)
        )
    ).all()
    expected = sorted(
        [
            (store_scan, "scanned", "account", world.pharmacist_account.display_name),
            (partner_scan, "scanned", "partner", "partner"),
        ]
    )
    assert [tuple(fact) for fact in facts] == expected
