"""Sign-in fixtures: a committed PostgreSQL database served by a real server, for races."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.models import Account, Role
from tests.fixtures import databases, factories
from tests.fixtures.servers import serve_in_loop


@dataclass
class Served:
    """A real server over its own committed database, and a client of it."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient

    async def account(self, role: Role) -> Account:
        """A committed account of `role` (password `factories.PASSWORD` for staff)."""
        async with self.sessionmaker() as session:
            row = await factories.account(session, role)
            await session.commit()
        return row


@pytest.fixture
async def served() -> AsyncIterator[Any]:
    """Start the app under uvicorn (as often as wanted: several processes' worth) on one fresh
    committed database, with settings overrides."""
    url = await databases.create_migrated_database()
    engines = []

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Served]:
        settings = Settings(
            **{
                "APP_ENV": Environment.test,
                "database_url": url,
                "outbox_relay_enabled": False,
                "fake_wechat_enabled": False,
                "db_pool_size": 20,
                "db_max_overflow": 20,
                **overrides,
            }
        )
        engine = create_engine(settings)
        engines.append(engine)
        async with (
            serve_in_loop(create_app(settings)) as base_url,
            httpx.AsyncClient(
                base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=100)
            ) as http,
        ):
            yield Served(settings, create_sessionmaker(engine), http)

    try:
        yield start
    finally:
        for engine in engines:
            await engine.dispose()
        await databases.drop_database(url)
