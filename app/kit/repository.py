"""What every domain's repository does alike: a row by its primary key or by a unique key,
every row of a small table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

Row = TypeVar("Row")


async def by_id(
    session: AsyncSession, model: type[Row], key: Any, *, for_update: bool = False
) -> Row | None:
    """The `model` row with primary key `key` (the session's copy if it has one), locked
    FOR UPDATE when asked; None when there is none."""
    return await session.get(model, key, with_for_update=True if for_update else None)


async def first_by(
    session: AsyncSession, model: type[Row], *order_by: Any, **values: Any
) -> Row | None:
    """The first `model` row (in `order_by` order) whose columns equal `values` (None matches
    NULL), or None; with a unique key's columns, the one row."""
    return await session.scalar(select(model).filter_by(**values).order_by(*order_by).limit(1))


async def every_row(session: AsyncSession, model: type[Row]) -> Sequence[Row]:
    """Every row of a small reference table (diseases, drugs, districts)."""
    return (await session.scalars(select(model))).all()
