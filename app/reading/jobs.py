"""Periodic work of readings, run by `app.worker`: PostgreSQL's monthly `readings` partitions
kept ready ahead of today (new rows never land in the default partition), and those past
READING_RETENTION_MONTHS detached into the archive schema."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.kit.clock import utcnow
from app.reading import repository

# Months of partitions kept ready ahead of today (PostgreSQL).
PARTITION_MONTHS_AHEAD = 3
# How long creating or detaching a partition may wait for `readings`' lock before giving up
# until the next run.
PARTITION_LOCK_TIMEOUT_MS = 2000


async def ensure_partitions(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Create the monthly partitions up to three months ahead; how many were new (none on
    SQLite, which has no partitions)."""
    async with unit_of_work(sessionmaker) as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0
        first_month = utcnow().date().replace(day=1)
        return await repository.create_partitions(
            session, first_month, PARTITION_MONTHS_AHEAD + 1, PARTITION_LOCK_TIMEOUT_MS
        )


async def archive_expired_partitions(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> list[str]:
    """Detach the monthly partitions wholly older than READING_RETENTION_MONTHS into the
    schema `reading_archive`, one transaction each; their names (none when retention is unset,
    or on SQLite)."""
    if settings.reading_retention_months is None:
        return []
    return await archive_partitions_before(
        sessionmaker, months_before(utcnow().date(), settings.reading_retention_months)
    )


async def archive_partitions_before(
    sessionmaker: async_sessionmaker[AsyncSession], month: date
) -> list[str]:
    """Detach every monthly partition of a month before `month` into `reading_archive`, each
    in a transaction of its own (`readings` is locked for one detach at a time)."""
    async with unit_of_work(sessionmaker) as session:
        if session.get_bind().dialect.name != "postgresql":
            return []
        names = await repository.partitions_before(session, month)
    for name in names:
        async with unit_of_work(sessionmaker) as session:
            await repository.archive_partition(session, name, PARTITION_LOCK_TIMEOUT_MS)
    return names


def months_before(day: date, months: int) -> date:
    """The first day of the month `months` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)
