"""SQL for reference data."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    ChronicDisease,
    District,
    Drug,
    Institution,
    PharmacyChain,
    PharmacyStore,
    PharmacyStoreCoverage,
)


async def list_districts(session: AsyncSession) -> Sequence[District]:
    """All districts and counties, by code."""
    return (await session.scalars(select(District).order_by(District.code))).all()


async def get_district(session: AsyncSession, code: str) -> District | None:
    """One district by code."""
    return await session.get(District, code)


async def list_institutions(session: AsyncSession) -> Sequence[Institution]:
    """All institutions, by code."""
    return (await session.scalars(select(Institution).order_by(Institution.code))).all()


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    """One institution by id."""
    return await session.get(Institution, institution_id)


async def institution_code_exists(session: AsyncSession, code: str) -> bool:
    """Whether an institution already has this code."""
    return await session.scalar(select(Institution.id).where(Institution.code == code)) is not None


async def list_stores_with_coverage(
    session: AsyncSession, district_code: str | None
) -> list[tuple[PharmacyStore, list[str]]]:
    """Active stores (optionally only those covering a district) with their covered districts."""
    statement = select(PharmacyStore).where(PharmacyStore.is_active.is_(True))
    if district_code is not None:
        statement = statement.where(
            PharmacyStore.id.in_(
                select(PharmacyStoreCoverage.store_id).where(
                    PharmacyStoreCoverage.district_code == district_code
                )
            )
        )
    stores = (await session.scalars(statement.order_by(PharmacyStore.code))).all()
    coverage: dict[uuid.UUID, list[str]] = {store.id: [] for store in stores}
    if stores:
        rows = await session.execute(
            select(PharmacyStoreCoverage.store_id, PharmacyStoreCoverage.district_code)
            .where(PharmacyStoreCoverage.store_id.in_(list(coverage)))
            .order_by(PharmacyStoreCoverage.district_code)
        )
        for store_id, code in rows:
            coverage[store_id].append(code)
    return [(store, coverage[store.id]) for store in stores]


async def list_diseases(session: AsyncSession) -> Sequence[ChronicDisease]:
    """The chronic-disease catalogue, by code."""
    return (await session.scalars(select(ChronicDisease).order_by(ChronicDisease.code))).all()


async def list_drugs(session: AsyncSession, query: str | None) -> Sequence[Drug]:
    """Drugs, optionally those whose generic or product name contains `query`."""
    statement = select(Drug)
    if query:
        pattern = f"%{query}%"
        statement = statement.where(
            Drug.generic_name_zh.ilike(pattern)
            | Drug.product_name_zh.ilike(pattern)
            | Drug.generic_name_en.ilike(pattern)
        )
    return (await session.scalars(statement.order_by(Drug.national_code))).all()


async def get_drug(session: AsyncSession, drug_id: uuid.UUID) -> Drug | None:
    """One drug by id."""
    return await session.get(Drug, drug_id)


async def drug_code_exists(session: AsyncSession, national_code: str) -> bool:
    """Whether a drug already has this national code."""
    found = await session.scalar(select(Drug.id).where(Drug.national_code == national_code))
    return found is not None


async def get_chain_by_code(session: AsyncSession, code: str) -> PharmacyChain | None:
    """One pharmacy chain by its code."""
    return await session.scalar(select(PharmacyChain).where(PharmacyChain.code == code))


async def store_code_exists(session: AsyncSession, code: str, fixmedins_code: str) -> bool:
    """Whether a store already has this code or this designated-pharmacy code."""
    found = await session.scalar(
        select(PharmacyStore.id).where(
            (PharmacyStore.code == code) | (PharmacyStore.fixmedins_code == fixmedins_code)
        )
    )
    return found is not None
