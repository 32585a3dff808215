"""SQL of idempotency keys: a key bound to its request's fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.kit.sql import insert_ignoring_conflicts
from app.models import IdempotencyKey


async def bind(session: AsyncSession, scope: str, key: str, fingerprint: str) -> bool:
    """Store the key with the fingerprint unless the scope has it already; True when new."""
    inserted = await session.execute(
        insert_ignoring_conflicts(session, IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=fingerprint, created_at=utcnow())
        .returning(IdempotencyKey.key)
    )
    return inserted.first() is not None


async def fingerprint_of(session: AsyncSession, scope: str, key: str) -> str | None:
    """The fingerprint the key was first bound to (None if it is not stored)."""
    return await session.scalar(
        select(IdempotencyKey.fingerprint).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == key
        )
    )


async def delete_older_than(session: AsyncSession, before: datetime) -> int:
    """Forget the keys first used before `before`; how many."""
    result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
