"""Catalogue endpoints: everyone reads the catalogue in force (categories, diseases with their
national codes and annual limits); admins publish new editions."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, status

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.catalogue import service as catalogue_service
from app.catalogue.schemas import (
    CatalogueEditionCreate,
    CatalogueEditionOut,
    CatalogueEditionSummary,
    CatalogueEntryOut,
    DiseaseCategoryOut,
)
from app.db import DbSession
from app.kit.clock import city_date
from app.kit.pagination import Page, PageQuery
from app.kit.time_bounds import CalendarDate
from app.models import Role

router = APIRouter(prefix="/api/v1/catalogue", tags=["catalogue"])

Admin = Annotated[Principal, require_roles(Role.admin)]


def _edition_out(view: catalogue_service.CatalogueView) -> CatalogueEditionOut:
    categories: dict[str, DiseaseCategoryOut] = {}
    for item in view.items:
        category = item.category
        categories.setdefault(
            category.code,
            DiseaseCategoryOut(
                code=category.code,
                name_zh=category.name_zh,
                name_en=category.name_en,
                disease_codes=[],
            ),
        ).disease_codes.append(item.disease.code)
    return CatalogueEditionOut(
        id=view.edition.id,
        effective_from=view.edition.effective_from,
        note=view.edition.note,
        created_at=view.edition.created_at,
        categories=sorted(categories.values(), key=lambda c: c.code),
        entries=[
            CatalogueEntryOut(
                disease_code=item.disease.code,
                national_code=item.disease.national_code,
                category_code=item.category.code,
                category_zh=item.category.name_zh,
                category_en=item.category.name_en,
                name_zh=item.disease.name_zh,
                name_en=item.disease.name_en,
                online_admitted=item.online_admitted,
                annual_limits_fen=item.annual_limits_fen,
            )
            for item in view.items
        ],
    )


@router.get("", response_model=CatalogueEditionOut)
async def get_catalogue(
    _: CurrentPrincipal, session: DbSession, on: CalendarDate | None = None
) -> CatalogueEditionOut:
    """The catalogue in force on a city date (today by default)."""
    view = await catalogue_service.catalogue_on(session, on or city_date())
    return _edition_out(view)


@router.get("/editions", response_model=Page[CatalogueEditionSummary])
async def list_editions(
    _: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[CatalogueEditionSummary]:
    """Every edition with its effective date, newest first."""
    editions = await catalogue_service.list_editions(session)
    items = [CatalogueEditionSummary.model_validate(e) for e in editions]
    return page.page_of_all(
        items, lambda e: (e.effective_from, e.id), date, uuid.UUID, descending=True
    )


@router.post("/editions", response_model=CatalogueEditionOut, status_code=status.HTTP_201_CREATED)
async def publish_edition(
    body: CatalogueEditionCreate, principal: Admin, session: DbSession
) -> CatalogueEditionOut:
    """Publish the catalogue as it will be from a future date (admin); history never changes."""
    return _edition_out(await catalogue_service.publish_edition(session, principal, body))
