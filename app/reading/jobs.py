"""Periodic work of readings, run by `app.worker`: PostgreSQL's monthly `readings` partitions
kept ready ahead of today (new rows never land in the default partition)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import unit_of_work
from app.kit.clock import utcnow
from app.reading import repository

# Months of partitions kept ready ahead of today (PostgreSQL).
PARTITION_MONTHS_AHEAD = 3


async def ensure_partitions(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Create the monthly partitions up to three months ahead; how many were new (none on
    SQLite, which has no partitions)."""
    async with unit_of_work(sessionmaker) as session:
        if session.get_bind().dialect.name != "postgresql":
            return 0
        first_month = utcnow().date().replace(day=1)
        return await repository.create_partitions(session, first_month, PARTITION_MONTHS_AHEAD + 1)
