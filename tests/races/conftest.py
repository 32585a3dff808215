"""One real server for the race tests (a uvicorn process over its own PostgreSQL database);
each test commits its own fresh rows through `committed`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.races import RaceServer, race_server

T = TypeVar("T")


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[RaceServer]:
    """The service under race: one per test process, started by its first race test. (Scoped
    to the package, it was started again for every file: pytest-xdist hands out whole files,
    so the package's files reach a worker between other packages'.)"""
    async with race_server() as running:
        yield running


async def committed(server: RaceServer, build: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Rows written by `build` and committed, so the server's connections see them."""
    async with server.sessionmaker() as session:
        result = await build(session)
        await session.commit()
    return result
