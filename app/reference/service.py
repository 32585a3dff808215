"""Rules for managing reference data (admins only; codes are unique and never reused)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

import app.reference.messages  # noqa: F401 - registers the error texts
from app.errors import AppError, Conflict, NotFound
from app.kit.sql import add_unique
from app.models import Drug, Institution, PharmacyStore, PharmacyStoreCoverage
from app.reference import repository as reference_repository
from app.reference.codes import CODE_PROBLEMS, DesignatedKind, code_problem
from app.reference.schemas import DrugCreate, InstitutionCreate, PharmacyStoreCreate


class InvalidDesignatedCode(AppError):
    """A designated institution's or pharmacy's code not in the national 12-character form."""

    status = 422
    codes = CODE_PROBLEMS


def _check_designated_code(code: str, kind: DesignatedKind, district_code: str) -> None:
    problem = code_problem(code, kind, district_code)
    if problem is not None:
        raise InvalidDesignatedCode(problem)


def _apply(target: object, changes: BaseModel) -> None:
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(target, name, value)


async def create_institution(session: AsyncSession, data: InstitutionCreate) -> Institution:
    """Add a designated institution; its district must exist and its code must be new and
    national (H + the district's code + a 5-digit sequence)."""
    if await reference_repository.get_district(session, data.district_code) is None:
        raise NotFound("district_not_found")
    if data.is_designated:
        _check_designated_code(data.code, "H", data.district_code)
    if await reference_repository.institution_code_exists(session, data.code):
        raise Conflict("institution_code_taken")
    institution = Institution(**data.model_dump())
    if not await add_unique(session, institution):  # written meanwhile (an identical create)
        raise Conflict("institution_code_taken")
    return institution


async def create_store(
    session: AsyncSession, data: PharmacyStoreCreate
) -> tuple[PharmacyStore, list[str]]:
    """Add a store to a partner chain with the districts it delivers to; its chain and
    districts must exist, its codes must be new and its designated code national (P + the
    district's code + a 5-digit sequence). Returns the store and its covered districts."""
    chain = await reference_repository.get_chain_by_code(session, data.chain_code)
    if chain is None:
        raise NotFound("chain_not_found")
    covers = sorted(set(data.covers))
    for district_code in {data.district_code, *covers}:
        if await reference_repository.get_district(session, district_code) is None:
            raise NotFound("district_not_found")
    _check_designated_code(data.fixmedins_code, "P", data.district_code)
    if await reference_repository.store_code_exists(session, data.code, data.fixmedins_code):
        raise Conflict("store_code_taken")
    store = PharmacyStore(
        chain_id=chain.id,
        **data.model_dump(exclude={"chain_code", "covers"}),
        is_active=True,
    )
    if not await add_unique(session, store):  # written meanwhile (an identical create)
        raise Conflict("store_code_taken")
    session.add_all(PharmacyStoreCoverage(store_id=store.id, district_code=c) for c in covers)
    await session.flush()
    return store, covers


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
    if not await add_unique(session, drug):  # written meanwhile (an identical create)
        raise Conflict("drug_code_taken")
    return drug


async def update_drug(session: AsyncSession, drug_id: uuid.UUID, changes: BaseModel) -> Drug:
    """Change a drug's price, pack, class or flags."""
    drug = await reference_repository.get_drug(session, drug_id)
    if drug is None:
        raise NotFound()
    _apply(drug, changes)
    await session.flush()
    return drug
