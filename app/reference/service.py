"""Rules for managing reference data (admins only; codes are unique and never reused)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.models import Drug, Institution
from app.reference import repository as reference_repository
from app.reference.schemas import DrugCreate, InstitutionCreate


def _apply(target: object, changes: BaseModel) -> None:
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(target, name, value)


async def create_institution(session: AsyncSession, data: InstitutionCreate) -> Institution:
    """Add a designated institution; its code must be new and its district must exist."""
    if await reference_repository.get_district(session, data.district_code) is None:
        raise NotFound("district_not_found")
    if await reference_repository.institution_code_exists(session, data.code):
        raise Conflict("institution_code_taken")
    institution = Institution(**data.model_dump())
    session.add(institution)
    await session.flush()
    return institution


async def update_institution(
    session: AsyncSession, institution_id: uuid.UUID, changes: BaseModel
) -> Institution:
    """Change an institution's names, level or flags."""
    institution = await reference_repository.get_institution(session, institution_id)
    if institution is None:
        raise NotFound()
    _apply(institution, changes)
    await session.flush()
    return institution


async def create_drug(session: AsyncSession, data: DrugCreate) -> Drug:
    """Add a drug to the catalogue; its national code must be new."""
    if await reference_repository.drug_code_exists(session, data.national_code):
        raise Conflict("drug_code_taken")
    drug = Drug(**data.model_dump())
    session.add(drug)
    await session.flush()
    return drug


async def update_drug(session: AsyncSession, drug_id: uuid.UUID, changes: BaseModel) -> Drug:
    """Change a drug's price, pack, class or flags."""
    drug = await reference_repository.get_drug(session, drug_id)
    if drug is None:
        raise NotFound()
    _apply(drug, changes)
    await session.flush()
    return drug
