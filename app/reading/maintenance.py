"""Periodic reading upkeep: signal-loss alerts, CGM day rollups, time partitions ahead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alert import service as alert_service
from app.analytics.service import refresh_rollups
from app.config import Settings
from app.db import unit_of_work
from app.kit.clock import utcnow
from app.kit.sql import try_transaction_lock
from app.realtime.hub import RealtimeHub

log = structlog.get_logger(__name__)

# Months of partitions kept ready ahead of today (PostgreSQL).
PARTITION_MONTHS_AHEAD = 3
# Stale patients whose rollups are refreshed per transaction, and the advisory lock that keeps
# the processes from refreshing the same ones at once.
ROLLUP_BATCH = 200
ROLLUP_LOCK = 0x43474D44  # "CGMD"


@dataclass(frozen=True)
class Pass:
    """What one maintenance pass did."""

    signal_losses: int
    rollups: int
    partitions: int


async def ensure_partitions(session: AsyncSession) -> int:
    """Create the monthly `readings` partitions up to three months ahead; how many were new."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    first_month = utcnow().date().replace(day=1)
    created = await session.scalar(
        text("SELECT create_reading_partitions(:first, :months)"),
        {"first": first_month, "months": PARTITION_MONTHS_AHEAD + 1},
    )
    return int(created or 0)


async def refresh_stale_rollups(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> int:
    """Refresh every stale CGM day rollup, a batch per transaction, unless another process is
    at it; how many patients were refreshed."""
    refreshed = 0
    while True:
        async with unit_of_work(sessionmaker) as session:
            # One process at a time: others would pick the same patients and wait on its rows.
            if not await try_transaction_lock(session, ROLLUP_LOCK):
                return refreshed
            done = await refresh_rollups(session, settings, limit=ROLLUP_BATCH)
        refreshed += done
        if done < ROLLUP_BATCH:
            return refreshed


async def run_pass(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, hub: RealtimeHub
) -> Pass:
    """One pass; each step commits on its own so one failing step does not undo the others."""
    async with unit_of_work(sessionmaker) as session:
        losses = await alert_service.sweep_signal_loss(session, settings, hub)
    rollups = await refresh_stale_rollups(sessionmaker, settings)
    async with unit_of_work(sessionmaker) as session:
        partitions = await ensure_partitions(session)
    return Pass(losses, rollups, partitions)


async def _every(seconds: float, step: Callable[[], Awaitable[None]], failure: str) -> None:
    while True:
        try:
            await step()
        except Exception:
            log.exception(failure)
        await asyncio.sleep(seconds)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    hub: RealtimeHub,
    interval_seconds: float = 60.0,
) -> None:
    """Run a pass every `interval_seconds`, and refresh stale rollups every
    `cgm_rollup_interval_seconds` in between (uploads make them stale all the time), until
    cancelled; a failed step is logged and retried."""

    async def full_pass() -> None:
        done = await run_pass(sessionmaker, settings, hub)
        log.info(
            "reading maintenance pass",
            signal_losses=done.signal_losses,
            rollups=done.rollups,
            partitions=done.partitions,
        )

    async def rollups() -> None:
        refreshed = await refresh_stale_rollups(sessionmaker, settings)
        if refreshed:
            log.info("cgm rollups refreshed", patients=refreshed)

    async with asyncio.TaskGroup() as steps:
        steps.create_task(_every(interval_seconds, full_pass, "reading maintenance pass failed"))
        steps.create_task(
            _every(settings.cgm_rollup_interval_seconds, rollups, "cgm rollup refresh failed")
        )
