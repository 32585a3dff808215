"""Catalogue rules: which edition is in force on a day, and publishing a new one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.catalogue import repository as catalogue_repository
from app.catalogue.schemas import INSURANCE_TYPES, CatalogueEditionCreate
from app.errors import Conflict, NotFound
from app.kit.clock import city_date
from app.models import CatalogueEdition, ChronicDisease


@dataclass(frozen=True)
class CatalogueItem:
    """One disease as an edition lists it."""

    disease: ChronicDisease
    online_admitted: bool
    annual_limits_fen: dict[str, int]


@dataclass(frozen=True)
class CatalogueView:
    """An edition and its items."""

    edition: CatalogueEdition
    items: list[CatalogueItem]


async def catalogue_on(session: AsyncSession, on: date) -> CatalogueView:
    """The catalogue in force on `on`; 404 before the first edition."""
    edition = await catalogue_repository.edition_in_force(session, on)
    if edition is None:
        raise NotFound("catalogue_not_in_force")
    return await _view(session, edition)


async def _view(session: AsyncSession, edition: CatalogueEdition) -> CatalogueView:
    rows = await catalogue_repository.entries_with_diseases(session, edition.id)
    limits = await catalogue_repository.limits_of(session, edition.id)
    items = [
        CatalogueItem(disease, entry.online_admitted, limits.get(disease.id, {}))
        for entry, disease in rows
    ]
    return CatalogueView(edition, items)


async def list_editions(session: AsyncSession) -> list[CatalogueEdition]:
    """Every edition, newest first."""
    return list(await catalogue_repository.list_editions(session))


async def listed_item(
    session: AsyncSession, disease_id: uuid.UUID, on: date
) -> tuple[CatalogueEdition, CatalogueItem] | None:
    """The disease as the edition in force on `on` lists it, or None when it is not listed."""
    edition = await catalogue_repository.edition_in_force(session, on)
    if edition is None:
        return None
    rows = await catalogue_repository.entries_with_diseases(session, edition.id, [disease_id])
    if not rows:
        return None
    entry, disease = rows[0]
    limits = await catalogue_repository.limits_of(session, edition.id)
    return edition, CatalogueItem(disease, entry.online_admitted, limits.get(disease.id, {}))


async def online_admitted_disease_ids(
    session: AsyncSession, disease_ids: list[uuid.UUID], on: date
) -> set[uuid.UUID]:
    """Those of `disease_ids` that the online service admits on `on`."""
    edition = await catalogue_repository.edition_in_force(session, on)
    if edition is None or not disease_ids:
        return set()
    rows = await catalogue_repository.entries_with_diseases(session, edition.id, disease_ids)
    return {disease.id for entry, disease in rows if entry.online_admitted}


async def annual_limit_fen(
    session: AsyncSession, disease_id: uuid.UUID, insurance_type: str, on: date
) -> int | None:
    """The disease's annual limit for an insurance type on `on` (None when not listed)."""
    found = await listed_item(session, disease_id, on)
    return None if found is None else found[1].annual_limits_fen.get(insurance_type)


async def publish_edition(
    session: AsyncSession, principal: Principal, body: CatalogueEditionCreate
) -> CatalogueView:
    """Add an edition taking effect on a future date; past days keep the edition they had."""
    # The very first edition is the initial load: there is no history it could rewrite.
    if await catalogue_repository.edition_count(session) > 0 and body.effective_from <= city_date():
        raise Conflict("catalogue_change_in_past")
    if await catalogue_repository.edition_on_date_exists(session, body.effective_from):
        raise Conflict("catalogue_edition_date_taken")
    codes = [entry.disease_code for entry in body.entries]
    if len(set(codes)) != len(codes):
        raise Conflict("catalogue_disease_repeated")
    diseases = await catalogue_repository.diseases_by_code(session, codes)
    entries, limits = [], []
    for item in body.entries:
        disease = diseases.get(item.disease_code)
        if disease is None:
            raise NotFound("catalogue_disease_unknown", disease=item.disease_code)
        if set(item.annual_limits_fen) != set(INSURANCE_TYPES):
            raise Conflict("catalogue_limits_incomplete", disease=item.disease_code)
        entries.append({"disease_id": disease.id, "online_admitted": item.online_admitted})
        limits += [
            {"disease_id": disease.id, "insurance_type": kind, "annual_limit_fen": fen}
            for kind, fen in item.annual_limits_fen.items()
        ]
    edition = CatalogueEdition(
        effective_from=body.effective_from,
        note=body.note,
        published_by_account_id=principal.account_id,
    )
    await catalogue_repository.add_edition(session, edition, entries, limits)
    return await _view(session, edition)
