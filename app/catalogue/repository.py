"""SQL for catalogue editions, entries and limits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import add_unique
from app.models import (
    CatalogueEdition,
    CatalogueEntry,
    CatalogueLimit,
    ChronicDisease,
    DiseaseCategory,
)


async def edition_in_force(session: AsyncSession, on: date) -> CatalogueEdition | None:
    """The edition with the latest effective date on or before `on`."""
    return await session.scalar(
        select(CatalogueEdition)
        .where(CatalogueEdition.effective_from <= on)
        .order_by(CatalogueEdition.effective_from.desc())
        .limit(1)
    )


async def list_editions(session: AsyncSession) -> Sequence[CatalogueEdition]:
    """Every edition, newest effective date first."""
    return (
        await session.scalars(
            select(CatalogueEdition).order_by(CatalogueEdition.effective_from.desc())
        )
    ).all()


async def edition_count(session: AsyncSession) -> int:
    """How many editions exist."""
    return await session.scalar(select(func.count()).select_from(CatalogueEdition)) or 0


async def edition_on_date(session: AsyncSession, effective_from: date) -> CatalogueEdition | None:
    """The edition taking effect on that date, if any."""
    return await session.scalar(
        select(CatalogueEdition).where(CatalogueEdition.effective_from == effective_from)
    )


async def entries_with_diseases(
    session: AsyncSession, edition_id: uuid.UUID, disease_ids: Iterable[uuid.UUID] | None = None
) -> Sequence[tuple[CatalogueEntry, ChronicDisease, DiseaseCategory]]:
    """An edition's entries with their diseases and categories (optionally only some diseases),
    by disease code."""
    statement = (
        select(CatalogueEntry, ChronicDisease, DiseaseCategory)
        .join(ChronicDisease, ChronicDisease.id == CatalogueEntry.disease_id)
        .join(DiseaseCategory, DiseaseCategory.code == ChronicDisease.category_code)
        .where(CatalogueEntry.edition_id == edition_id)
    )
    if disease_ids is not None:
        statement = statement.where(CatalogueEntry.disease_id.in_(list(disease_ids)))
    rows = await session.execute(statement.order_by(ChronicDisease.code))
    return [(entry, disease, category) for entry, disease, category in rows]


async def limits_of(
    session: AsyncSession, edition_id: uuid.UUID, disease_ids: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, dict[str, int]]:
    """An edition's annual limits (optionally of some diseases): disease id -> insurance type
    -> fen."""
    statement = select(
        CatalogueLimit.disease_id, CatalogueLimit.insurance_type, CatalogueLimit.annual_limit_fen
    ).where(CatalogueLimit.edition_id == edition_id)
    if disease_ids is not None:
        statement = statement.where(CatalogueLimit.disease_id.in_(list(disease_ids)))
    limits: dict[uuid.UUID, dict[str, int]] = {}
    for disease_id, insurance_type, fen in await session.execute(statement):
        limits.setdefault(disease_id, {})[insurance_type] = fen
    return limits


async def diseases_by_code(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, ChronicDisease]:
    """Diseases by local code."""
    rows = await session.scalars(select(ChronicDisease).where(ChronicDisease.code.in_(list(codes))))
    return {row.code: row for row in rows}


async def categories_by_code(
    session: AsyncSession, codes: Iterable[str]
) -> dict[str, DiseaseCategory]:
    """Categories by code."""
    rows = await session.scalars(
        select(DiseaseCategory).where(DiseaseCategory.code.in_(list(codes)))
    )
    return {row.code: row for row in rows}


async def add_edition(
    session: AsyncSession,
    edition: CatalogueEdition,
    entries: Sequence[dict[str, Any]],
    limits: Sequence[dict[str, Any]],
) -> bool:
    """Insert an edition with its entries and limits (executemany); False (and nothing
    written) when an edition of that day was written meanwhile."""
    if not await add_unique(session, edition):
        return False
    await session.execute(
        insert(CatalogueEntry), [{**e, "edition_id": edition.id} for e in entries]
    )
    await session.execute(
        insert(CatalogueLimit), [{**lim, "edition_id": edition.id} for lim in limits]
    )
    return True
