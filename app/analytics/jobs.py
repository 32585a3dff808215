"""Periodic work of analytics, run by `app.worker`: CGM day rollups made stale by uploads."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.analytics.service import refresh_rollups
from app.config import Settings
from app.db import unit_of_work

# Stale patients whose rollups are refreshed per transaction.
ROLLUP_BATCH = 200


async def refresh_stale_rollups(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Refresh every stale CGM day rollup, a batch per transaction; how many patients were
    refreshed. The worker's `cgm-rollups` job lock keeps one process at it at a time."""
    refreshed = 0
    while True:
        async with unit_of_work(sessionmaker) as session:
            done = await refresh_rollups(session, settings, limit=ROLLUP_BATCH)
        refreshed += done
        if done < ROLLUP_BATCH:
            return refreshed
