"""Outbox test helpers: a movable clock, relays wired to the test's transaction, fresh databases."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Environment, Settings
from app.db import create_engine
from app.kit.clock import utcnow
from app.models import OutboxMessage
from app.outbox import service as outbox_service
from app.outbox.relay import OutboxRelay
from app.outbox.types import ClaimedMessage, Handler
from tests.fixtures import databases


class MovableClock:
    """The real time plus an offset the test can push forward (rows written now stay due)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class RecordingHandler:
    """A handler that records every message it is given and fails with `error` if one is set."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.messages: list[ClaimedMessage] = []

    async def __call__(self, message: ClaimedMessage) -> None:
        self.messages.append(message)
        if self.error is not None:
            raise self.error

    @property
    def keys(self) -> list[str]:
        return [message.idempotency_key for message in self.messages]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


RelayFactory = Callable[..., OutboxRelay]


@pytest.fixture
def make_relay(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: MovableClock
) -> RelayFactory:
    """Relays over the test's transaction: make_relay({"kind": handler}, outbox_max_attempts=3)."""

    def make(
        handlers: dict[str, Handler], relay_id: str | None = None, **overrides: Any
    ) -> OutboxRelay:
        return OutboxRelay(
            sessionmaker, handlers, settings.model_copy(update=overrides), relay_id, clock=clock
        )

    return make


async def enqueue_committed(
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    available_at: datetime | None = None,
) -> None:
    """Enqueue in a business transaction of its own that commits."""
    async with sessionmaker() as session, session.begin():
        await outbox_service.enqueue(session, kind, payload, idempotency_key, available_at)


async def load(session: AsyncSession, idempotency_key: str) -> OutboxMessage:
    """The row as the database has it now (not a stale copy from the identity map)."""
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key == idempotency_key)
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(statement)).one()


async def wait_until(
    condition: Callable[[], Any], what: str, within: float = 30.0, interval: float = 0.02
) -> None:
    """Poll `condition` (sync or async) until truthy; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture
async def fresh_database_url() -> AsyncIterator[str]:
    """A database of its own, for tests whose relays commit for real (several connections)."""
    url = await databases.create_migrated_database()
    yield url
    await databases.drop_database(url)


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Test settings pointing at `database_url`."""
    return Settings(
        APP_ENV=Environment.test,
        database_url=database_url,
        outbox_relay_enabled=False,
        **overrides,
    )


@pytest.fixture
async def fresh_engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database of its own; its sessions really commit."""
    engine = create_engine(settings_for(fresh_database_url))
    yield engine
    await engine.dispose()
