"""Periodic reading upkeep: signal-loss alerts, CGM day rollups, time partitions ahead."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alert import service as alert_service
from app.analytics.service import refresh_rollups
from app.config import Settings
from app.db import unit_of_work
from app.kit.clock import utcnow
from app.realtime.hub import RealtimeHub

log = structlog.get_logger(__name__)

# Months of partitions kept ready ahead of today (PostgreSQL).
PARTITION_MONTHS_AHEAD = 3


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


async def run_pass(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, hub: RealtimeHub
) -> Pass:
    """One pass; each step commits on its own so one failing step does not undo the others."""
    async with unit_of_work(sessionmaker) as session:
        losses = await alert_service.sweep_signal_loss(session, settings, hub)
    async with unit_of_work(sessionmaker) as session:
        rollups = await refresh_rollups(session, settings)
    async with unit_of_work(sessionmaker) as session:
        partitions = await ensure_partitions(session)
    return Pass(losses, rollups, partitions)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    hub: RealtimeHub,
    interval_seconds: float = 60.0,
) -> None:
    """Run a pass every `interval_seconds` until cancelled; a failed pass is logged and retried."""
    while True:
        try:
            done = await run_pass(sessionmaker, settings, hub)
            log.info(
                "reading maintenance pass",
                signal_losses=done.signal_losses,
                rollups=done.rollups,
                partitions=done.partitions,
            )
        except Exception:
            log.exception("reading maintenance pass failed")
        await asyncio.sleep(interval_seconds)
