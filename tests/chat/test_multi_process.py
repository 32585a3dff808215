"""Two uvicorn processes on one PostgreSQL and one Redis: messages sent through one reach the
other's websocket clients in order, and presence spans both processes (no needless push)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.models import OutboxMessage
from tests.chat.live import LiveChat, live_chat, next_of, send_frame
from tests.fixtures import databases
from tests.fixtures.servers import run_uvicorn
from tests.realtime.clients import authed, ws_url

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
async def shared() -> AsyncIterator[tuple[str, LiveChat, object]]:
    """A migrated database both processes use, with a committed conversation."""
    url = await databases.create_migrated_database()
    engine = create_engine(Settings(APP_ENV=Environment.test, database_url=url))
    sessionmaker = create_sessionmaker(engine)
    chat = await live_chat(sessionmaker, Settings(APP_ENV=Environment.test, database_url=url))
    yield url, chat, sessionmaker
    await engine.dispose()
    await databases.drop_database(url)


async def test_messages_cross_processes_in_order_and_presence_is_shared(shared) -> None:
    url, chat, sessionmaker = shared
    assert databases.REDIS_URL
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "REDIS_URL": databases.REDIS_URL,
        "OUTBOX_RELAY_ENABLED": "false",
        "FAKE_WECHAT_ENABLED": "false",
        "CHAT_RATE_LIMIT_MESSAGES": "1000",
        "LOG_LEVEL": "WARNING",
    }
    async with (
        run_uvicorn(env) as first,
        run_uvicorn(env) as second,
        authed(ws_url(second), chat.doctor) as doctor_on_second,
        authed(ws_url(first), chat.patient) as patient_on_first,
    ):
        for n in range(20):
            await send_frame(patient_on_first, chat.conversation_id, f"第{n + 1}条")
            await next_of(patient_on_first, "chat.ack")
        received = [
            (await next_of(doctor_on_second, "chat.message"))["message"]["seq"] for _ in range(20)
        ]
    assert received == list(range(1, 21))
    async with sessionmaker() as session:
        pushes = await session.scalar(
            select(func.count()).where(OutboxMessage.kind == "push.notification")
        )
    # The doctor was connected to the other process the whole time: nobody needed a push.
    assert pushes == 0
