"""Creating a month's partition while an upload into that month is still open (PostgreSQL, a
database of the test's own): `create_reading_partitions` waits for the upload, then moves its
row too, instead of failing on the row that arrived in the default partition meanwhile
(migration 0028)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from tests.faults.conftest import FaultDb, practice
from tests.fixtures.servers import wait_until

pytestmark = pytest.mark.postgres

MONTH = date(2031, 7, 1)  # far ahead: no partition yet, so its rows go to the default
INSERT = (
    "INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,"
    " backfilled, source, received_at) VALUES (:d, 'cgm', :t, :p, 480, 100, false, 'app', now())"
)
WHERE = "SELECT tableoid::regclass::text FROM readings WHERE device_id = :d AND measured_at = :t"


async def test_a_month_is_created_after_the_open_upload_into_it_and_takes_its_row(
    fault_db: FaultDb,
) -> None:
    who = (await practice(fault_db, 1)).patients[0]
    at = datetime(2031, 7, 9, 8, 0, tzinfo=UTC)
    row = {"d": who.device_id, "t": at, "p": who.patient_id}
    marker = f"create-{uuid.uuid4().hex[:8]}"
    async with fault_db.sessionmaker() as upload, fault_db.sessionmaker() as creator:
        await upload.execute(text(INSERT), row)  # open: not committed yet
        await creator.execute(text(f"SET application_name = '{marker}'"))

        async def create() -> int:
            created = await creator.scalar(
                text("SELECT create_reading_partitions(:m, 1)"), {"m": MONTH}
            )
            await creator.commit()
            return int(created or 0)

        creating = asyncio.create_task(create())

        async def waits_for_a_lock() -> bool:
            async with fault_db.sessionmaker() as observer:
                state = await observer.scalar(
                    text(
                        "SELECT wait_event_type FROM pg_stat_activity WHERE application_name = :m"
                    ),
                    {"m": marker},
                )
            return state == "Lock"

        await wait_until(waits_for_a_lock, within=20, what="the creator waiting for the upload")
        await upload.commit()
        assert await asyncio.wait_for(creating, 20) == 1
    async with fault_db.sessionmaker() as session:
        assert await session.scalar(text(WHERE), row) == "reading_partitions.readings_p203107"
