"""Periodic work of assignment and care, for a scheduler or a long-running process:

    python -m app.assignment.jobs            # once
    python -m app.assignment.jobs --every 30 # for ever, every 30 s

Each run hands on the waiting patients of doctors whose app went silent without closing its
socket (a crashed process), and enqueues follow-up reminders that have come due. Both are safe
to run from several processes at once (rows are claimed with SKIP LOCKED; reminders are
idempotent per follow-up).
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assignment import consultations as consultation_service
from app.care import follow_ups as follow_up_service
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, unit_of_work
from app.doctor import service as doctor_service
from app.realtime.hub import RealtimeHub, create_hub

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JobReport:
    doctors_lapsed: int
    patients_handed_over: int
    reminders_enqueued: int


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, hub: RealtimeHub
) -> JobReport:
    """One pass of every periodic job."""
    async with unit_of_work(sessionmaker) as session:
        lapsed = await doctor_service.lapse_silent_doctors(session)
        moved = 0
        for doctor_id in lapsed:
            moved += await consultation_service.hand_over(session, settings, hub, doctor_id)
    async with unit_of_work(sessionmaker) as session:
        lead = timedelta(hours=settings.follow_up_reminder_lead_hours)
        reminders = await follow_up_service.enqueue_due_reminders(session, lead)
    return JobReport(len(lapsed), moved, reminders)


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    hub: RealtimeHub,
    interval_seconds: float = 30.0,
) -> None:
    """Run the jobs every `interval_seconds` until cancelled; a failed pass is logged."""
    while True:
        try:
            report = await run_once(sessionmaker, settings, hub)
            log.info("assignment jobs pass", **asdict(report))
        except Exception:
            log.exception("assignment jobs pass failed")
        await asyncio.sleep(interval_seconds)


async def main(every: float | None) -> None:
    """Run the jobs once, or every `every` seconds."""
    settings = get_settings()
    engine = create_engine(settings)
    hub = create_hub(settings)
    await hub.start()
    try:
        sessionmaker = create_sessionmaker(engine)
        while True:
            report = await run_once(sessionmaker, settings, hub)
            print(report, flush=True)
            if every is None:
                return
            await asyncio.sleep(every)
    finally:
        await hub.stop()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=None, help="seconds between runs")
    asyncio.run(main(parser.parse_args().every))
