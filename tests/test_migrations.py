"""The schema exists only through Alembic: up, down and up again on a fresh database."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from app.config import Settings
from app.db import create_engine
from app.models import Base
from tests.fixtures import databases


async def _tables(url: str) -> set[str]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture
async def fresh_url():
    url = await databases.create_database()
    yield url
    await databases.drop_database(url)


async def test_upgrade_creates_every_model_table(fresh_url: str) -> None:
    await databases.migrate(fresh_url)
    assert set(Base.metadata.tables) <= await _tables(fresh_url)


async def test_round_trip_down_to_base_and_up_again(fresh_url: str) -> None:
    await databases.migrate(fresh_url)
    await databases.downgrade(fresh_url, "base")
    assert await _tables(fresh_url) <= {"alembic_version"}
    await databases.migrate(fresh_url)
    assert set(Base.metadata.tables) <= await _tables(fresh_url)
