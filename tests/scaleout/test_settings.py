"""The settings of running behind a transaction pooler and of reading retention: refused where
they cannot work, and the month arithmetic of retention."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from app.config import Environment, Settings
from app.db import create_engine, create_lock_engine
from app.reading import repository
from app.reading.jobs import months_before

PG = "postgresql+asyncpg://app@db.example/chronic"
DIRECT = "postgresql+asyncpg://app@primary.example/chronic"


def _settings(**values: object) -> Settings:
    return Settings(APP_ENV=Environment.test, **values)  # type: ignore[arg-type]


def test_a_pooler_needs_postgresql() -> None:
    with pytest.raises(ValidationError, match="DATABASE_TRANSACTION_POOLER needs a PostgreSQL"):
        _settings(
            database_url="sqlite+aiosqlite:///x.db",
            database_transaction_pooler=True,
            background_jobs_enabled=False,
        )


def test_behind_a_pooler_the_periodic_jobs_leave_the_web_process() -> None:
    with pytest.raises(ValidationError, match="BACKGROUND_JOBS_ENABLED=false"):
        _settings(database_url=PG, database_transaction_pooler=True, background_jobs_enabled=True)


async def test_job_locks_have_connections_of_their_own_on_the_direct_url_behind_a_pooler() -> None:
    pooled = _settings(
        database_url=PG, database_transaction_pooler=True, background_jobs_enabled=False
    )
    engine = create_engine(pooled)
    try:
        with pytest.raises(ValueError, match="DATABASE_DIRECT_URL"):
            create_lock_engine(pooled, engine, 3)
        direct = pooled.model_copy(update={"database_direct_url": DIRECT})
        locks = create_lock_engine(direct, engine, 3)
        assert locks is not engine
        assert locks.url.host == "primary.example"
        await locks.dispose()
        plain = _settings(database_url=PG)
        locks = create_lock_engine(plain, engine, 3)
        assert (locks is not engine, locks.url.host) == (True, "db.example")
        await locks.dispose()
    finally:
        await engine.dispose()


async def test_on_sqlite_the_job_locks_stay_in_process(tmp_path: Path) -> None:
    sqlite = _settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    engine = create_engine(sqlite)
    try:
        assert create_lock_engine(sqlite, engine, 3) is engine
    finally:
        await engine.dispose()


def test_retention_must_outlast_every_reading_still_accepted() -> None:
    # Imports reach back 3650 days by default: 130 months of 28 days do not.
    with pytest.raises(ValidationError, match="READING_RETENTION_MONTHS"):
        _settings(reading_retention_months=130)
    assert _settings(reading_retention_months=131).reading_retention_months == 131
    short = _settings(reading_import_history_days=90, reading_retention_months=4)
    assert short.reading_retention_months == 4
    with pytest.raises(ValidationError, match="READING_RETENTION_MONTHS"):
        _settings(reading_import_history_days=90, reading_retention_months=3)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 1200))
def test_months_before_is_the_first_of_the_month_that_many_months_back(
    day: date, months: int
) -> None:
    first = months_before(day, months)
    assert first.day == 1
    assert (day.year * 12 + day.month) - (first.year * 12 + first.month) == months


async def test_only_monthly_partitions_are_archived() -> None:
    with pytest.raises(ValueError, match="not a monthly readings partition"):
        await repository.archive_partition(None, "readings; DROP TABLE readings", 100)  # type: ignore[arg-type]
