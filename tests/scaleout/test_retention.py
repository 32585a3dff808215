"""Reading retention: the worker's `reading-retention` job detaches the monthly partitions past
READING_RETENTION_MONTHS into `reading_archive` (PostgreSQL, a database of the test's own),
and does nothing when retention is unset or on SQLite."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.config import Environment, Settings
from app.kit.clock import utcnow
from app.reading.jobs import archive_expired_partitions, archive_partitions_before, months_before
from tests.faults.conftest import FaultDb
from tests.fixtures import databases

# Imports reach back 90 days here, so four months of retention is allowed.
SHORT = Settings(
    APP_ENV=Environment.test, reading_import_history_days=90, reading_retention_months=4
)


@pytest.mark.postgres
async def test_months_past_retention_move_to_the_archive_once(fault_db: FaultDb) -> None:
    today = utcnow().date()
    unset = SHORT.model_copy(update={"reading_retention_months": None})
    assert await archive_expired_partitions(fault_db.sessionmaker, unset) == []

    archived = await archive_expired_partitions(fault_db.sessionmaker, SHORT)
    # The migration made partitions from twelve months back: those of the eight months before
    # the fourth month back are past retention.
    expected = [f"readings_p{months_before(today, n):%Y%m}" for n in range(12, 4, -1)]
    assert archived == expected
    async with fault_db.sessionmaker() as session:
        for name in expected:
            where = await session.scalar(
                text("SELECT to_regclass(:n)::text"), {"n": f"reading_archive.{name}"}
            )
            assert where == f"reading_archive.{name}"
        kept = f"reading_partitions.readings_p{months_before(today, 4):%Y%m}"
        assert await session.scalar(text("SELECT to_regclass(:n)::text"), {"n": kept}) == kept
    assert await archive_expired_partitions(fault_db.sessionmaker, SHORT) == []


async def test_sqlite_has_no_partitions_to_archive(sessionmaker) -> None:
    if databases.on_postgres():
        pytest.skip("the shared PostgreSQL database keeps its partitions (see the test above)")
    assert await archive_partitions_before(sessionmaker, utcnow().date()) == []
