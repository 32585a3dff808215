"""The relay loop against a database of its own: outages, cancellation, concurrent relays."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import create_engine, create_sessionmaker
from app.models import OutboxMessage
from app.outbox import service as outbox_service
from app.outbox.relay import OutboxRelay
from app.outbox.types import ClaimedMessage
from tests.fixtures.databases import on_postgres
from tests.outbox.conftest import (
    RecordingHandler,
    enqueue_committed,
    load,
    settings_for,
    wait_until,
)

KIND = "test.effect"


class DatabaseDownAtFirst:
    """A sessionmaker whose first `failures` sessions fail to connect, like a restarting DB."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], failures: int) -> None:
        self._sessionmaker = sessionmaker
        self.failures_left = failures

    def __call__(self) -> AsyncSession:
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionRefusedError("database is restarting")
        return self._sessionmaker()


async def has_status(sessionmaker: async_sessionmaker[AsyncSession], key: str, status: str) -> bool:
    async with sessionmaker() as session:
        return (await load(session, key)).status == status


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert task.cancelled()


async def test_run_forever_survives_the_database_being_down(
    fresh_database_url: str, fresh_engine: AsyncEngine
) -> None:
    sessionmaker = create_sessionmaker(fresh_engine)
    await enqueue_committed(sessionmaker, KIND, {}, "loop-db-down")
    flaky = DatabaseDownAtFirst(sessionmaker, failures=3)
    handler = RecordingHandler()
    settings = settings_for(fresh_database_url, outbox_poll_seconds=0.01)
    relay = OutboxRelay(flaky, {KIND: handler}, settings)  # type: ignore[arg-type]

    task = asyncio.create_task(relay.run_forever())
    try:
        await wait_until(
            lambda: has_status(sessionmaker, "loop-db-down", "sent"), "delivery after the outage"
        )
        assert not task.done()
    finally:
        await stop(task)
    assert flaky.failures_left == 0
    assert handler.keys == ["loop-db-down"]


async def test_cancelled_relay_leaves_its_in_flight_message_pending_for_redelivery(
    fresh_database_url: str, fresh_engine: AsyncEngine
) -> None:
    sessionmaker = create_sessionmaker(fresh_engine)
    await enqueue_committed(sessionmaker, KIND, {}, "loop-cancelled")
    started = asyncio.Event()

    async def hangs(message: ClaimedMessage) -> None:
        started.set()
        await asyncio.sleep(60)

    settings = settings_for(fresh_database_url, outbox_poll_seconds=0.01)
    task = asyncio.create_task(OutboxRelay(sessionmaker, {KIND: hangs}, settings).run_forever())
    await asyncio.wait_for(started.wait(), timeout=10)
    await stop(task)

    async with sessionmaker() as session:
        row = await load(session, "loop-cancelled")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.locked_until is not None


@pytest.mark.postgres
@pytest.mark.skipif(not on_postgres(), reason="SKIP LOCKED claims need PostgreSQL")
async def test_concurrent_relays_never_deliver_the_same_message_twice(
    fresh_database_url: str, fresh_engine: AsyncEngine
) -> None:
    sessionmaker = create_sessionmaker(fresh_engine)
    total = 200
    async with sessionmaker() as session, session.begin():
        for n in range(total):
            await outbox_service.enqueue(session, KIND, {"n": n}, f"concurrent-{n}")

    delivered: Counter[str] = Counter()
    per_relay: Counter[str] = Counter()

    def handler_for(relay_id: str) -> Any:
        async def deliver(message: ClaimedMessage) -> None:
            delivered[message.idempotency_key] += 1
            per_relay[relay_id] += 1
            await asyncio.sleep(0.001)

        return deliver

    settings = settings_for(fresh_database_url, outbox_batch_size=7, outbox_poll_seconds=0.005)
    # Each relay on its own engine (own pool), as separate processes would be.
    engines = [create_engine(settings) for _ in range(2)]
    relays = [
        OutboxRelay(create_sessionmaker(engine), {KIND: handler_for(name)}, settings, name)
        for engine, name in zip(engines, ("relay-a", "relay-b"), strict=True)
    ]
    tasks = [asyncio.create_task(relay.run_forever()) for relay in relays]
    try:
        await wait_until(lambda: all_sent(sessionmaker, total), f"all {total} messages sent")
    finally:
        for task in tasks:
            await stop(task)
        for engine in engines:
            await engine.dispose()

    assert len(delivered) == total
    assert set(delivered.values()) == {1}
    assert per_relay["relay-a"] > 0 and per_relay["relay-b"] > 0


async def all_sent(sessionmaker: async_sessionmaker[AsyncSession], total: int) -> bool:
    async with sessionmaker() as session:
        statement = select(func.count()).where(OutboxMessage.status == "sent")
        return await session.scalar(statement) == total
