"""Sign-in housekeeping: forget failed sign-ins older than PASSWORD_FAILURE_MEMORY_SECONDS.

Run by `app.worker` (the `sign-in-housekeeping` job). Safe in several processes at once.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.config import Settings
from app.db import unit_of_work

PURGE_INTERVAL_SECONDS = 600.0


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """One purge; returns how many usernames' failures were forgotten."""
    async with unit_of_work(sessionmaker) as session:
        return await auth_service.purge_sign_in_failures(session, settings)
