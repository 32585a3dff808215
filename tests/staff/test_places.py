"""Institutions and stores an admin creates carry national 12-character designated codes:
H or P, the district's own 6-digit code, a 5-digit sequence."""

from __future__ import annotations

import pytest

from app.models import PharmacyChain, Role
from app.reference.codes import code_problem
from tests.fixtures import factories

INSTITUTION = {
    "name_zh": "阳泉市新医院",
    "name_en": "Yangquan New Hospital",
    "level": "secondary",
    "district_code": "140302",
}


@pytest.mark.parametrize(
    ("code", "kind", "problem"),
    [
        ("H14030200001", "H", None),
        ("P14032200001", "P", "designated_code_area_mismatch"),
        ("H140302001", "H", "designated_code_format"),  # the old 10-character demo shape
        ("P14030200001", "H", "designated_code_format"),
        ("H14030200000", "H", "designated_code_format"),
        ("h14030200001", "H", "designated_code_format"),
    ],
)
def test_the_national_code_shape(code: str, kind: str, problem: str | None) -> None:
    assert code_problem(code, kind, "140302") == problem  # type: ignore[arg-type]


async def test_an_institution_with_a_national_code_is_created(client, admin, db_session) -> None:
    await factories.district(db_session)
    created = await client.post(
        "/api/v1/institutions", headers=admin, json={**INSTITUTION, "code": "H14030200777"}
    )
    assert created.status_code == 201


async def test_an_institution_code_of_another_area_is_422(client, admin, db_session) -> None:
    await factories.district(db_session)
    refused = await client.post(
        "/api/v1/institutions", headers=admin, json={**INSTITUTION, "code": "H14032200777"}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "designated_code_area_mismatch"


async def test_an_institution_code_in_another_shape_is_422(client, admin, db_session) -> None:
    await factories.district(db_session)
    refused = await client.post(
        "/api/v1/institutions", headers=admin, json={**INSTITUTION, "code": "H140302777"}
    )
    assert refused.json()["code"] == "designated_code_format"


async def _store_body(db_session) -> dict[str, object]:
    chain = (await factories.store(db_session)).chain_id
    chain_row = await db_session.get(PharmacyChain, chain)
    await factories.district(db_session, "140322")
    return {
        "chain_code": chain_row.code,
        "code": "GKYQ-YX02",
        "fixmedins_code": "P14032200002",
        "name_zh": "国康大药房（盂县新店）",
        "name_en": "Guokang Pharmacy, Yu County New",
        "district_code": "140322",
        "address_zh": "阳泉市盂县秀水镇新街1号",
        "covers": ["140322"],
    }


async def test_a_store_is_created_with_its_coverage(client, admin, db_session) -> None:
    created = await client.post(
        "/api/v1/pharmacy-stores", headers=admin, json=await _store_body(db_session)
    )
    assert created.status_code == 201, created.text
    assert created.json()["fixmedins_code"] == "P14032200002"
    assert created.json()["covered_district_codes"] == ["140322"]


async def test_a_store_code_of_the_wrong_kind_is_422(client, admin, db_session) -> None:
    body = {**await _store_body(db_session), "fixmedins_code": "H14032200002"}
    refused = await client.post("/api/v1/pharmacy-stores", headers=admin, json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "designated_code_format"


async def test_a_store_code_in_use_is_409(client, admin, db_session) -> None:
    body = await _store_body(db_session)
    await client.post("/api/v1/pharmacy-stores", headers=admin, json=body)
    again = await client.post(
        "/api/v1/pharmacy-stores", headers=admin, json={**body, "code": "GKYQ-YX03"}
    )
    assert again.status_code == 409 and again.json()["code"] == "store_code_taken"


async def test_only_admins_create_stores(client, db_session, settings) -> None:
    courier = await factories.account(db_session, Role.courier)
    headers = await factories.bearer(db_session, settings, courier)
    body = await _store_body(db_session)
    refused = await client.post("/api/v1/pharmacy-stores", headers=headers, json=body)
    assert refused.status_code == 403
