"""Periodic work of alerts, run by `app.worker`: signal-loss alerts for CGMs gone silent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alert import service as alert_service
from app.config import Settings
from app.db import unit_of_work
from app.realtime.hub import RealtimeHub


async def sweep_signal_loss(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, hub: RealtimeHub
) -> int:
    """Raise the due signal-loss alerts in one transaction; how many were raised."""
    async with unit_of_work(sessionmaker) as session:
        return await alert_service.sweep_signal_loss(session, settings, hub)
