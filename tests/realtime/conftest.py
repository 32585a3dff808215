"""Realtime fixtures: a database of committed accounts, and gateways served by real uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.models import Role
from tests.fixtures import databases
from tests.fixtures.servers import serve_in_loop, wait_until
from tests.realtime.clients import User, sign_in, ws_url

requires_redis = pytest.mark.skipif(
    not databases.REDIS_URL, reason="set TEST_REDIS_URL to run the Redis realtime tests"
)


@dataclass(frozen=True)
class RealtimeDb:
    """A migrated database of its own: servers here see only committed rows."""

    url: str
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]

    async def user(self, role: Role = Role.patient) -> User:
        """A new signed-in account."""
        return await sign_in(self.sessionmaker, self.settings, role)


@pytest.fixture(scope="session")
async def realtime_db() -> AsyncIterator[RealtimeDb]:
    """One database for the realtime tests (rows are committed, so not the shared one)."""
    url = await databases.create_migrated_database()
    settings = Settings(APP_ENV=Environment.test, database_url=url, outbox_relay_enabled=False)
    engine = create_engine(settings)
    yield RealtimeDb(url, settings, create_sessionmaker(engine))
    await engine.dispose()
    await databases.drop_database(url)


@dataclass(frozen=True)
class Gateway:
    """A running server: its app (for `app.state.hub`) and its websocket URL."""

    app: FastAPI
    url: str


@pytest.fixture(
    params=["in_process", pytest.param("redis", marks=[pytest.mark.redis, requires_redis])]
)
def hub_redis_url(request: pytest.FixtureRequest) -> str | None:
    """REDIS_URL of the server under test: each gateway test runs on both hubs."""
    return databases.REDIS_URL if request.param == "redis" else None


@pytest.fixture
def start_gateway(
    realtime_db: RealtimeDb, hub_redis_url: str | None
) -> Callable[..., AbstractAsyncContextManager[Gateway]]:
    """Start the real app under uvicorn with settings overrides (e.g. tiny heartbeats)."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Gateway]:
        values: dict[str, Any] = {
            "database_url": realtime_db.url,
            "redis_url": hub_redis_url,
            "outbox_relay_enabled": False,
            "fake_wechat_enabled": False,
        }
        settings = Settings(APP_ENV=Environment.test, **{**values, **overrides})
        app = create_app(settings)
        async with serve_in_loop(app) as base_url:
            if hub_redis_url is not None and settings.redis_url == hub_redis_url:
                # Clients are sent only to a ready process: on Redis, ready means its listener
                # is subscribed (before that a socket is closed with 1013, as it should be).
                await _until_ready(base_url)
            yield Gateway(app, ws_url(base_url))

    return start


async def _until_ready(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_until(ready, within=30, interval=0.05, what="/readyz 200")
