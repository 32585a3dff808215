"""Periodic work of assignment, run by `app.worker` (the `assignment` job).

Each run hands on the waiting patients of doctors whose app went silent without closing its
socket (a crashed process), and enqueues follow-up reminders that have come due. Both are safe
to run from several processes at once (rows are claimed with SKIP LOCKED; reminders are
idempotent per follow-up).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.assignment import consultations as consultation_service
from app.care import follow_ups as follow_up_service
from app.config import Settings
from app.db import unit_of_work
from app.doctor import service as doctor_service
from app.realtime.hub import RealtimeHub


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
