"""Writing outbox rows inside the business transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.clock import utcnow
from app.models import OutboxMessage
from app.outbox import service as outbox_service
from tests.outbox.conftest import load


async def count_with_key(session: AsyncSession, key: str) -> int:
    statement = select(func.count()).where(OutboxMessage.idempotency_key == key)
    return int(await session.scalar(statement) or 0)


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> None:
    async with sessionmaker() as business:
        await outbox_service.enqueue(business, "http.post", {"url": "http://x"}, "enq-rollback")
        assert await count_with_key(business, "enq-rollback") == 1
        await business.rollback()
    assert await count_with_key(db_session, "enq-rollback") == 0


async def test_enqueued_message_is_pending_and_due_now(db_session: AsyncSession) -> None:
    before = utcnow()
    await outbox_service.enqueue(db_session, "http.post", {"url": "http://x"}, "enq-pending")
    row = await load(db_session, "enq-pending")
    assert (row.status, row.attempts, row.locked_until) == ("pending", 0, None)
    assert row.payload == {"url": "http://x"}
    assert before <= row.next_attempt_at <= utcnow()


async def test_enqueuing_the_same_idempotency_key_twice_keeps_one_row(
    db_session: AsyncSession,
) -> None:
    await outbox_service.enqueue(db_session, "http.post", {"n": 1}, "enq-duplicate")
    await outbox_service.enqueue(db_session, "http.post", {"n": 2}, "enq-duplicate")
    assert await count_with_key(db_session, "enq-duplicate") == 1
    assert (await load(db_session, "enq-duplicate")).payload == {"n": 1}


async def test_available_at_delays_the_first_attempt(db_session: AsyncSession) -> None:
    later = utcnow() + timedelta(hours=1)
    await outbox_service.enqueue(db_session, "http.post", {}, "enq-later", available_at=later)
    assert (await load(db_session, "enq-later")).next_attempt_at == later


@pytest.mark.parametrize("key", ["", "k" * 129])
async def test_idempotency_key_must_fit_the_column(db_session: AsyncSession, key: str) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        await outbox_service.enqueue(db_session, "http.post", {}, key)
