"""The city's whole catalogue (seed 004): 29 categories and 40 diseases with their national
chronic/special disease codes and per-disease annual limits, loaded from its data file."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.catalogue import service as catalogue_service
from app.catalogue.schemas import INSURANCE_TYPES, CatalogueFile
from app.errors import NotFound
from app.models import Role
from tests.fixtures import factories
from tests.fixtures.cli import run_cli

FILE = catalogue_service.read_catalogue_file()


def _future_copy() -> CatalogueFile:
    """The file dated on a free future day (other tests' editions may share the database)."""
    day = date(2900, 1, 1) + timedelta(days=random.randrange(30_000))
    return FILE.model_copy(update={"effective_from": day})


def test_the_file_lists_29_categories_and_40_diseases_with_unique_codes() -> None:
    codes = [d.code for d in FILE.diseases]
    categories = {c.code for c in FILE.categories}
    assert (len(FILE.categories), len(categories)) == (29, 29)
    assert (len(codes), len(set(codes))) == (40, 40)
    # Every category has a disease; each disease sits in its national code's category.
    assert {d.category_code for d in FILE.diseases} == categories
    assert all(d.category_code == d.national_code[:4] for d in FILE.diseases)
    assert all(set(d.annual_limits_fen) == set(INSURANCE_TYPES) for d in FILE.diseases)
    assert all(c.name_zh and c.name_en for c in FILE.categories)


def test_only_the_pilot_s_two_diseases_go_to_online_care() -> None:
    online = {d.code: d.name_zh for d in FILE.diseases if d.online_admitted}
    assert online == {"M01603": "糖尿病伴并发症", "M03902": "高血压（三级 极高危）"}
    by_code = {d.code: d for d in FILE.diseases}
    assert (by_code["M01600"].national_code, by_code["M03900"].national_code) == (
        "M01600",
        "M03900",
    )


def test_limits_differ_by_disease() -> None:
    limits = {d.annual_limits_fen["310"] for d in FILE.diseases}
    assert len(limits) > 5  # 按病种限额: not one limit per insurance type


async def test_the_catalogue_endpoint_lists_the_loaded_catalogue(client, db_session, settings):
    data = _future_copy()
    loaded = await catalogue_service.load_catalogue(db_session, data)
    assert loaded.edition_created
    admin = await factories.account(db_session, Role.admin)
    headers = await factories.bearer(db_session, settings, admin)
    params = {"on": data.effective_from.isoformat()}
    response = await client.get("/api/v1/catalogue", params=params, headers=headers)
    body = response.json()
    assert response.status_code == 200, body
    assert len(body["categories"]) == 29 and len(body["entries"]) == 40
    entries = {e["disease_code"]: e for e in body["entries"]}
    assert entries["M07803"] == {
        "disease_code": "M07803",
        "national_code": "M07803",
        "category_code": "M078",
        "category_zh": "慢性肾功能不全",
        "category_en": "Chronic renal insufficiency",
        "name_zh": "慢性肾功能不全（血液透析治疗）",
        "name_en": "Chronic renal insufficiency (haemodialysis)",
        "online_admitted": False,
        "annual_limits_fen": {"310": 7_000_000, "390": 6_000_000},
    }
    kidney = next(c for c in body["categories"] if c["code"] == "M078")
    assert kidney["disease_codes"] == ["M07800", "M07803", "M07804"]
    assert sum(len(c["disease_codes"]) for c in body["categories"]) == 40


async def test_loading_the_file_again_changes_nothing(db_session) -> None:
    data = _future_copy()
    await catalogue_service.load_catalogue(db_session, data)
    again = await catalogue_service.load_catalogue(db_session, data)
    assert (again.categories_created, again.diseases_created, again.edition_created) == (
        0,
        0,
        False,
    )
    assert len(again.view.items) == 40


async def test_a_disease_outside_the_file_s_categories_is_refused(db_session) -> None:
    data = _future_copy()
    stray = data.diseases[0].model_copy(update={"code": "M09901", "category_code": "M099"})
    with pytest.raises(NotFound) as refused:
        await catalogue_service.load_catalogue(
            db_session, data.model_copy(update={"diseases": [*data.diseases, stray]})
        )
    assert refused.value.code == "catalogue_category_unknown"


@pytest.mark.sqlite_file
def test_a_city_loads_its_catalogue_from_the_command_line(tmp_path: Path) -> None:
    database = tmp_path / "city.db"
    assert run_cli(database, "migrate").returncode == 0
    first = run_cli(database, "load-catalogue")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "2020-05-28 published: 40 diseases in 29 categories" in first.stdout
    again = run_cli(database, "load-catalogue")
    assert "already there: 40 diseases in 29 categories (0 diseases and 0" in again.stdout
    # Once history exists, an edition can only be published from a future day.
    backdated = run_cli(database, "load-catalogue", "--effective-from", "2021-01-01")
    assert backdated.returncode == 1 and "catalogue_change_in_past" in backdated.stderr
