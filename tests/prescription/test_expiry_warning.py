"""A patient whose approved prescription lapses today is warned once, from the notice hour on;
an ordered prescription, or one with days left, is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from app.kit.clock import city_date
from app.models import OutboxMessage, Prescription
from app.prescription import jobs as prescription_jobs
from tests.prescription.world import World, approved, ordered

# 10:00 in Yangquan (UTC+8).
MORNING = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)


async def _written(db_session, prescription_id: str, days_ago: int, valid_days: int) -> None:
    await db_session.execute(
        update(Prescription)
        .where(Prescription.id == uuid.UUID(prescription_id))
        .values(written_on=city_date(MORNING) - timedelta(days=days_ago), valid_days=valid_days)
    )


async def _warnings(db_session) -> dict[str, dict]:
    rows = await db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key.like("prescription_expiring:%"))
    )
    return {row.idempotency_key.split(":")[1]: row.payload for row in rows}


async def test_the_last_valid_day_warns_once(client, world: World, db_session, settings) -> None:
    lapsing = await approved(client, world)
    await _written(db_session, lapsing, days_ago=2, valid_days=3)
    assert await prescription_jobs.warn_expiring(db_session, settings, MORNING) == 1
    assert await prescription_jobs.warn_expiring(db_session, settings, MORNING) == 1
    warnings = await _warnings(db_session)
    assert list(warnings) == [lapsing]
    payload = warnings[lapsing]
    assert payload["recipient"] == str(world.patient_account.id)
    assert payload["template"] == "prescription_expiring"
    assert payload["data"] == {
        "drug": world.drugs.metformin.generic_name_zh,
        "expires_on": city_date(MORNING).isoformat(),
    }


async def test_a_prescription_with_days_left_is_not_warned(
    client, world: World, db_session, settings
) -> None:
    later = await approved(client, world)
    await _written(db_session, later, days_ago=1, valid_days=3)
    assert await prescription_jobs.warn_expiring(db_session, settings, MORNING) == 0


async def test_nobody_is_warned_before_the_notice_hour(
    client, world: World, db_session, settings
) -> None:
    lapsing = await approved(client, world)
    await _written(db_session, lapsing, days_ago=0, valid_days=1)
    early = MORNING - timedelta(hours=2)  # 08:00 in the city, its last valid day
    assert await prescription_jobs.warn_expiring(db_session, settings, early) == 0
    assert await _warnings(db_session) == {}


async def test_an_ordered_prescription_is_not_warned(
    client, world: World, db_session, settings
) -> None:
    order = await ordered(client, world)
    await _written(db_session, order["prescription_id"], days_ago=0, valid_days=1)
    assert await prescription_jobs.warn_expiring(db_session, settings, MORNING) == 0
