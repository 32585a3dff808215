"""The schema exists only through Alembic: up, down and up again on a fresh database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import create_engine
from app.kit.clock import utcnow
from app.models import Base, CareTeam
from tests.fixtures import databases, factories


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


async def test_teams_sharing_a_name_are_told_apart_before_names_become_unique(
    fresh_url: str,
) -> None:
    """0030 makes a team's name unique in its institution: teams already sharing one keep the
    oldest's name and the others get their id's first eight characters appended."""
    await databases.migrate(fresh_url, "0029_platform_split_booked")
    engine = create_engine(Settings(database_url=fresh_url))
    now = utcnow()
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            hospital = await factories.institution(session)
            first = CareTeam(institution_id=hospital.id, name="家医一组", created_at=now)
            second = CareTeam(
                institution_id=hospital.id, name="家医一组", created_at=now + timedelta(seconds=1)
            )
            session.add_all([first, second])
            await session.commit()
            ids = (first.id, second.id)
        await databases.migrate(fresh_url)
        async with AsyncSession(engine) as session:
            names = {t.id: t.name for t in await session.scalars(select(CareTeam))}
    finally:
        await engine.dispose()
    assert names == {ids[0]: "家医一组", ids[1]: f"家医一组 #{ids[1].hex[:8]}"}
