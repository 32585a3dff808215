"""Where the database schema stands relative to the Alembic migrations shipped with the code."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncSession

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    """The Alembic config of this project (optionally pointed at a database URL)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url)
    return config


@lru_cache
def head_revisions() -> tuple[str, ...]:
    """The newest migration revision(s) in the code (one, unless branches await a merge)."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


async def current_revisions(session: AsyncSession) -> tuple[str, ...]:
    """The revision(s) the database is at (empty before the first migration)."""
    connection = await session.connection()
    heads = await connection.run_sync(
        lambda sync: MigrationContext.configure(sync).get_current_heads()
    )
    return tuple(sorted(heads))
