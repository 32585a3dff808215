"""What every domain's repository does alike: a row by its primary key."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def by_id(
    session: AsyncSession, model: type[Row], key: Any, *, for_update: bool = False
) -> Row | None:
    """The `model` row with primary key `key` (the session's copy if it has one), locked
    FOR UPDATE when asked; None when there is none."""
    return await session.get(model, key, with_for_update=True if for_update else None)
