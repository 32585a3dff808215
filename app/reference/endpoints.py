"""Reference data endpoints: readable by every signed-in user, maintained by admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.kit.pagination import Page, PageQuery
from app.models import PharmacyStore, Role
from app.reference import repository as reference_repository
from app.reference import service as reference_service
from app.reference.schemas import (
    ChronicDiseaseOut,
    DistrictOut,
    DrugCreate,
    DrugOut,
    DrugUpdate,
    InstitutionCreate,
    InstitutionOut,
    InstitutionUpdate,
    PharmacyStoreCreate,
    PharmacyStoreOut,
)

router = APIRouter(prefix="/api/v1", tags=["reference"])

Admin = Annotated[Principal, require_roles(Role.admin)]


@router.get("/districts", response_model=Page[DistrictOut])
async def list_districts(
    _: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[DistrictOut]:
    """Districts and counties of the city, by code."""
    rows = await reference_repository.list_districts(session)
    items = [DistrictOut.model_validate(r) for r in rows]
    return page.page_of_all(items, lambda d: (d.code,), str)


@router.get("/institutions", response_model=Page[InstitutionOut])
async def list_institutions(
    _: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[InstitutionOut]:
    """The designated institutions, by code."""
    rows = await reference_repository.list_institutions(session)
    items = [InstitutionOut.model_validate(r) for r in rows]
    return page.page_of_all(items, lambda i: (i.code, i.id), str, uuid.UUID)


@router.post("/institutions", response_model=InstitutionOut, status_code=status.HTTP_201_CREATED)
async def create_institution(
    body: InstitutionCreate, _: Admin, session: DbSession
) -> InstitutionOut:
    """Add a designated institution (admin)."""
    return InstitutionOut.model_validate(await reference_service.create_institution(session, body))


@router.put(
    "/institutions/{institution_id}",
    response_model=InstitutionOut,
    operation_id="update_institution_put",
)
@router.patch("/institutions/{institution_id}", response_model=InstitutionOut)
async def update_institution(
    institution_id: uuid.UUID, body: InstitutionUpdate, _: Admin, session: DbSession
) -> InstitutionOut:
    """Change an institution (admin)."""
    return InstitutionOut.model_validate(
        await reference_service.update_institution(session, institution_id, body)
    )


@router.get("/pharmacy-stores", response_model=Page[PharmacyStoreOut])
async def list_pharmacy_stores(
    _: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    district_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
) -> Page[PharmacyStoreOut]:
    """Partner pharmacy stores by code, optionally only those that deliver to a district."""
    rows = await reference_repository.list_stores_with_coverage(session, district_code)
    items = [_store_out(store, covered) for store, covered in rows]
    return page.page_of_all(items, lambda s: (s.code, s.id), str, uuid.UUID)


@router.post(
    "/pharmacy-stores", response_model=PharmacyStoreOut, status_code=status.HTTP_201_CREATED
)
async def create_pharmacy_store(
    body: PharmacyStoreCreate, _: Admin, session: DbSession
) -> PharmacyStoreOut:
    """Add a partner chain's store with the districts it delivers to (admin)."""
    return _store_out(*await reference_service.create_store(session, body))


def _store_out(store: PharmacyStore, covered: list[str]) -> PharmacyStoreOut:
    return PharmacyStoreOut(
        id=store.id,
        chain_id=store.chain_id,
        code=store.code,
        fixmedins_code=store.fixmedins_code,
        name_zh=store.name_zh,
        name_en=store.name_en,
        district_code=store.district_code,
        address_zh=store.address_zh,
        covered_district_codes=covered,
    )


@router.get("/chronic-diseases", response_model=Page[ChronicDiseaseOut])
async def list_chronic_diseases(
    _: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[ChronicDiseaseOut]:
    """The chronic-disease catalogue by code, with the diseases the online service admits."""
    rows = await reference_repository.list_diseases(session)
    items = [ChronicDiseaseOut.model_validate(r) for r in rows]
    return page.page_of_all(items, lambda d: (d.code, d.id), str, uuid.UUID)


@router.get("/drugs", response_model=Page[DrugOut])
async def list_drugs(
    _: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[DrugOut]:
    """The drug catalogue by national code, optionally filtered by name."""
    rows = await reference_repository.list_drugs(session, q)
    items = [DrugOut.model_validate(r) for r in rows]
    return page.page_of_all(items, lambda d: (d.national_code, d.id), str, uuid.UUID)


@router.post("/drugs", response_model=DrugOut, status_code=status.HTTP_201_CREATED)
async def create_drug(body: DrugCreate, _: Admin, session: DbSession) -> DrugOut:
    """Add a drug (admin)."""
    return DrugOut.model_validate(await reference_service.create_drug(session, body))


@router.put("/drugs/{drug_id}", response_model=DrugOut, operation_id="update_drug_put")
@router.patch("/drugs/{drug_id}", response_model=DrugOut)
async def update_drug(
    drug_id: uuid.UUID, body: DrugUpdate, _: Admin, session: DbSession
) -> DrugOut:
    """Change a drug (admin)."""
    return DrugOut.model_validate(await reference_service.update_drug(session, drug_id, body))
