"""Periodic work on prescriptions: warning patients whose approved prescription lapses today.

An approved prescription that is not ordered by the end of its last valid day can no longer be
used, and the patient must see the doctor again. On that day, from the notice hour on (nobody
is woken by it), the patient is told once - by SMS when no WeChat grant is left, since this is
one of the notifications that must reach them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.kit.clock import city_date, to_shanghai, utcnow
from app.outbox.push import PushNotification, queue_push
from app.prescription import repository as prescription_repository
from app.prescription.service import valid_until

log = structlog.get_logger(__name__)

PRESCRIPTION_EXPIRING = "prescription_expiring"
# Prescriptions are valid for at most this many days (the table's check).
MAX_VALID_DAYS = 3
BATCH = 1000


async def warn_expiring(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the warning of every approved prescription whose last valid day is today (once
    per prescription: the outbox key); how many were queued or already were."""
    if to_shanghai(now).hour < settings.prescription_expiry_notice_hour:
        return 0
    today = city_date(now)
    since = today - timedelta(days=MAX_VALID_DAYS - 1)
    rows = await prescription_repository.approved_written_since(session, since, BATCH)
    warned = 0
    for prescription, account_id, drug in rows:
        if valid_until(prescription) != today:
            continue
        await queue_push(
            session,
            PushNotification(
                recipient=str(account_id),
                template=PRESCRIPTION_EXPIRING,
                data={"drug": drug, "expires_on": today.isoformat()},
                page=f"pages/prescriptions/detail?id={prescription.id}",
            ),
            f"{PRESCRIPTION_EXPIRING}:{prescription.id}",
        )
        warned += 1
    return warned


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """One pass of the worker's `prescription-expiry` job."""
    async with unit_of_work(sessionmaker) as session:
        warned = await warn_expiring(session, settings, utcnow())
    if warned:
        log.info("prescription expiry warnings queued", prescriptions=warned)
    return warned
