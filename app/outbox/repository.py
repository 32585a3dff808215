"""SQL for the outbox: insert-or-ignore, claiming due rows under a lease, recording outcomes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import insert_ignoring_conflicts
from app.models import OutboxMessage
from app.outbox.types import ClaimedMessage

PENDING = "pending"
SENT = "sent"
DEAD = "dead"

# last_error is for people reading the table; a whole HTML error page helps nobody.
MAX_ERROR_CHARS = 2000


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a pending message unless its idempotency key exists; whether a row was added."""
    result = await session.execute(
        insert_ignoring_conflicts(session, OutboxMessage, ["idempotency_key"]).values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_due(
    session: AsyncSession, relay_id: str, now: datetime, lease_until: datetime, limit: int
) -> list[ClaimedMessage]:
    """Lease up to `limit` due messages to `relay_id`, counting the attempt; oldest due first."""
    # Run in its own short transaction and commit: the lease, not a held row lock, keeps other
    # relays off a message while it is being sent. An expired lease (its relay crashed or hung)
    # makes the message claimable again.
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        # PostgreSQL: concurrent relays skip each other's rows instead of queueing on them.
        # SQLite renders no FOR UPDATE; BEGIN IMMEDIATE (app.db) already serialises claims.
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    claimed = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            locked_until=lease_until,
            locked_by=relay_id,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.payload,
            OutboxMessage.idempotency_key,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    messages = [
        ClaimedMessage(
            id=row.id,
            kind=row.kind,
            payload=row.payload,
            idempotency_key=row.idempotency_key,
            attempts=row.attempts,
        )
        for row in claimed
    ]
    order = {message_id: position for position, message_id in enumerate(ids)}
    return sorted(messages, key=lambda message: order[message.id])


def _held_by(message_id: int, relay_id: str) -> Any:
    # Outcomes are recorded only while this relay still holds the message: if its lease ran
    # out and another relay took over, that relay's outcome is the one that counts.
    return and_(
        OutboxMessage.id == message_id,
        OutboxMessage.status == PENDING,
        OutboxMessage.locked_by == relay_id,
    )


async def _finish(
    session: AsyncSession, message_id: int, relay_id: str, values: dict[str, Any]
) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(_held_by(message_id, relay_id))
        .values(locked_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_sent(session: AsyncSession, message_id: int, relay_id: str, now: datetime) -> bool:
    """Record a delivered message; False if this relay no longer held it."""
    return await _finish(
        session, message_id, relay_id, {"status": SENT, "sent_at": now, "last_error": None}
    )


async def schedule_retry(
    session: AsyncSession, message_id: int, relay_id: str, retry_at: datetime, error: str
) -> bool:
    """Release a failed message until `retry_at`; False if this relay no longer held it."""
    return await _finish(
        session,
        message_id,
        relay_id,
        {"next_attempt_at": retry_at, "last_error": error[:MAX_ERROR_CHARS]},
    )


async def mark_dead(session: AsyncSession, message_id: int, relay_id: str, error: str) -> bool:
    """Give up on a message for good; False if this relay no longer held it."""
    return await _finish(
        session, message_id, relay_id, {"status": DEAD, "last_error": error[:MAX_ERROR_CHARS]}
    )
