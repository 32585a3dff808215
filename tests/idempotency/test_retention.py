"""Idempotency keys are kept for the retention, then the worker's job forgets them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app import worker
from app.idempotency import keys as idempotency
from app.kit.clock import utcnow
from app.models import IdempotencyKey


def test_the_worker_forgets_expired_keys_every_hour(settings) -> None:
    [job] = [job for job in worker.SCHEDULE if job.name == "idempotency-keys"]
    assert job.every(settings) == 3600.0


async def test_keys_older_than_the_retention_are_forgotten_and_younger_ones_kept(
    sessionmaker, settings
) -> None:
    retention = timedelta(hours=settings.idempotency_key_retention_hours)
    now = utcnow()
    async with sessionmaker() as session, session.begin():
        for key, age in (("old", retention + timedelta(minutes=1)), ("young", retention / 2)):
            session.add(
                IdempotencyKey(
                    scope="test-retention", key=key, fingerprint="f" * 64, created_at=now - age
                )
            )
    assert await idempotency.forget_expired(sessionmaker, settings) >= 1
    async with sessionmaker() as session:
        kept = await session.scalars(
            select(IdempotencyKey.key).where(IdempotencyKey.scope == "test-retention")
        )
        assert list(kept) == ["young"]
