"""Catalogue rules: which edition is in force on a day, publishing a new one, and loading a
city's catalogue from data (app/catalogue/editions/*.json)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.catalogue import repository as catalogue_repository
from app.catalogue.schemas import INSURANCE_TYPES, CatalogueEditionCreate, CatalogueFile
from app.errors import Conflict, NotFound
from app.kit.clock import city_date
from app.models import CatalogueEdition, ChronicDisease, DiseaseCategory

# The Yangquan catalogue the pilot started with: 29 categories, 40 diseases (docs/catalogue.md).
YANGQUAN_CATALOGUE = Path(__file__).parent / "editions" / "yangquan_2020.json"


@dataclass(frozen=True)
class CatalogueItem:
    """One disease as an edition lists it."""

    disease: ChronicDisease
    category: DiseaseCategory
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
        CatalogueItem(disease, category, entry.online_admitted, limits.get(disease.id, {}))
        for entry, disease, category in rows
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
    entry, disease, category = rows[0]
    limits = await catalogue_repository.limits_of(session, edition.id, [disease_id])
    return edition, CatalogueItem(
        disease, category, entry.online_admitted, limits.get(disease.id, {})
    )


async def online_admitted_disease_ids(
    session: AsyncSession, disease_ids: list[uuid.UUID], on: date
) -> set[uuid.UUID]:
    """Those of `disease_ids` that the online service admits on `on`."""
    edition = await catalogue_repository.edition_in_force(session, on)
    if edition is None or not disease_ids:
        return set()
    rows = await catalogue_repository.entries_with_diseases(session, edition.id, disease_ids)
    return {disease.id for entry, disease, _ in rows if entry.online_admitted}


async def annual_limit_fen(
    session: AsyncSession, disease_id: uuid.UUID, insurance_type: str, on: date
) -> int | None:
    """The disease's annual limit (按病种限额) for an insurance type in the edition in force on
    `on`; None when that edition does not list the disease."""
    edition = await catalogue_repository.edition_in_force(session, on)
    if edition is None:
        return None
    limits = await catalogue_repository.limits_of(session, edition.id, [disease_id])
    return limits.get(disease_id, {}).get(insurance_type)


def annual_limit_or_refuse(limit_fen: int | None) -> int:
    """A claim's annual limit; 409 when the catalogue in force does not list its disease."""
    if limit_fen is None:
        raise Conflict("disease_not_in_catalogue")
    return limit_fen


async def publish_edition(
    session: AsyncSession, principal: Principal, body: CatalogueEditionCreate
) -> CatalogueView:
    """Add an edition taking effect on a future date; past days keep the edition they had."""
    return await _publish(session, principal.account_id, body)


async def _publish(
    session: AsyncSession,
    account_id: uuid.UUID | None,
    body: CatalogueEditionCreate,
    *,
    backdate: bool = False,
) -> CatalogueView:
    # The very first edition is the initial load: there is no history it could rewrite.
    dated_in_past = body.effective_from <= city_date()
    if dated_in_past and not backdate and await catalogue_repository.edition_count(session) > 0:
        raise Conflict("catalogue_change_in_past")
    if await catalogue_repository.edition_on_date(session, body.effective_from) is not None:
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
        effective_from=body.effective_from, note=body.note, published_by_account_id=account_id
    )
    if not await catalogue_repository.add_edition(session, edition, entries, limits):
        raise Conflict("catalogue_edition_date_taken")  # an identical publish, meanwhile
    return await _view(session, edition)


@dataclass(frozen=True)
class LoadedCatalogue:
    """What loading a catalogue file did."""

    categories_created: int
    diseases_created: int
    edition_created: bool
    view: CatalogueView


def read_catalogue_file(path: Path = YANGQUAN_CATALOGUE) -> CatalogueFile:
    """A catalogue file, checked (pydantic raises on a malformed one)."""
    return CatalogueFile.model_validate_json(path.read_bytes())


async def load_catalogue(
    session: AsyncSession, data: CatalogueFile, *, backdate: bool = False
) -> LoadedCatalogue:
    """Make the file's categories and diseases exist (names and codes as the file says) and
    publish its edition unless one already takes effect that day (loading again is a no-op).
    As an admin's publication, its date must be in the future once any edition exists, unless
    `backdate` (the demo data, which brings its own history); a disease in a category the file
    does not list is refused."""
    category_codes = [c.code for c in data.categories]
    if len(set(category_codes)) != len(category_codes):
        raise Conflict("catalogue_category_repeated")
    categories = await catalogue_repository.categories_by_code(session, category_codes)
    created_categories = 0
    for item in data.categories:
        category = categories.get(item.code)
        if category is None:
            session.add(DiseaseCategory(**item.model_dump()))
            created_categories += 1
        else:
            category.name_zh, category.name_en = item.name_zh, item.name_en
    await session.flush()
    known = await catalogue_repository.diseases_by_code(session, [d.code for d in data.diseases])
    created_diseases = 0
    for disease in data.diseases:
        if disease.category_code not in category_codes:
            raise NotFound("catalogue_category_unknown", category=disease.category_code)
        fields = disease.model_dump(exclude={"annual_limits_fen"})
        row = known.get(disease.code)
        if row is None:
            session.add(ChronicDisease(**fields))
            created_diseases += 1
        else:
            for name, value in fields.items():
                setattr(row, name, value)
    await session.flush()
    edition = await catalogue_repository.edition_on_date(session, data.effective_from)
    if edition is not None:
        return LoadedCatalogue(
            created_categories, created_diseases, False, await _view(session, edition)
        )
    view = await _publish(session, None, data.edition(), backdate=backdate)
    return LoadedCatalogue(created_categories, created_diseases, True, view)
