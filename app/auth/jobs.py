"""Sign-in housekeeping: forget failed sign-ins older than PASSWORD_FAILURE_MEMORY_SECONDS.

Runs in each web process with the other periodic jobs (BACKGROUND_JOBS_ENABLED), or on its
own: `python -m app.auth.jobs [--every 600]`. Safe in several processes at once.
"""

from __future__ import annotations

import argparse
import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth import service as auth_service
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, unit_of_work

log = structlog.get_logger(__name__)

PURGE_INTERVAL_SECONDS = 600.0


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """One purge; returns how many usernames' failures were forgotten."""
    async with unit_of_work(sessionmaker) as session:
        return await auth_service.purge_sign_in_failures(session, settings)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    interval_seconds: float = PURGE_INTERVAL_SECONDS,
) -> None:
    """Purge every `interval_seconds` until cancelled; a failed pass is logged."""
    while True:
        try:
            purged = await run_once(sessionmaker, settings)
            if purged:
                log.info("sign-in failures forgotten", usernames=purged)
        except Exception:
            log.exception("sign-in failure purge failed")
        await asyncio.sleep(interval_seconds)


async def main(every: float | None) -> None:
    """Purge once, or every `every` seconds."""
    settings = get_settings()
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        if every is None:
            print(f"forgot the failures of {await run_once(sessionmaker, settings)} usernames")
        else:
            await run_forever(sessionmaker, settings, every)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=None, help="seconds between runs")
    asyncio.run(main(parser.parse_args().every))
