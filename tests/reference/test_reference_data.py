"""Reference data: readable by every signed-in role, changed only by admins, codes unique."""

from __future__ import annotations

from app.models import Role
from tests.fixtures import factories

DRUG = {
    "national_code": "XA10BAE054A001010100001",
    "generic_name_zh": "二甲双胍",
    "generic_name_en": "Metformin",
    "product_name_zh": "格华止",
    "form": "片剂",
    "strength": "0.5g",
    "pack": "20片/盒",
    "manufacturer_zh": "中美上海施贵宝",
    "price_fen": 2350,
    "insurance_class": "full",
}


async def _headers(db_session, settings, role: Role) -> dict[str, str]:
    return await factories.bearer(db_session, settings, await factories.account(db_session, role))


async def test_admin_adds_a_drug_and_everyone_reads_it(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    created = await client.post("/api/v1/drugs", headers=admin, json=DRUG)
    assert created.status_code == 201
    assert created.json()["price_fen"] == 2350
    patient = await _headers(db_session, settings, Role.patient)
    listed = await client.get("/api/v1/drugs", headers=patient, params={"q": "双胍"})
    assert [d["national_code"] for d in listed.json()["items"]] == [DRUG["national_code"]]


async def test_duplicate_drug_code_is_409(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    await client.post("/api/v1/drugs", headers=admin, json=DRUG)
    again = await client.post("/api/v1/drugs", headers=admin, json=DRUG)
    assert again.status_code == 409
    assert again.json()["code"] == "drug_code_taken"


async def test_price_must_be_whole_fen(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    response = await client.post("/api/v1/drugs", headers=admin, json={**DRUG, "price_fen": 23.5})
    assert response.status_code == 422


async def test_malformed_drug_code_is_422(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    response = await client.post(
        "/api/v1/drugs", headers=admin, json={**DRUG, "national_code": "XA10"}
    )
    assert response.status_code == 422


async def test_non_admins_cannot_change_reference_data(client, db_session, settings) -> None:
    for role in (Role.patient, Role.doctor, Role.pharmacist, Role.courier, Role.bureau):
        headers = await _headers(db_session, settings, role)
        response = await client.post("/api/v1/drugs", headers=headers, json=DRUG)
        assert response.status_code == 403, role


async def test_admin_updates_a_drug_price(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    drug = (await client.post("/api/v1/drugs", headers=admin, json=DRUG)).json()
    response = await client.patch(
        f"/api/v1/drugs/{drug['id']}", headers=admin, json={"price_fen": 2100}
    )
    assert response.json()["price_fen"] == 2100


async def test_institution_in_unknown_district_is_refused(client, db_session, settings) -> None:
    admin = await _headers(db_session, settings, Role.admin)
    response = await client.post(
        "/api/v1/institutions",
        headers=admin,
        json={
            "code": "H999",
            "name_zh": "某医院",
            "name_en": "Some",
            "level": "tertiary",
            "district_code": "999999",
        },
    )
    assert response.status_code == 404
    assert response.json()["code"] == "district_not_found"


async def test_stores_filtered_by_covered_district(client, db_session, settings) -> None:
    county_store = await factories.store(db_session, covers=("140321",))
    await factories.store(db_session, covers=("140302",))
    headers = await _headers(db_session, settings, Role.patient)
    response = await client.get(
        "/api/v1/pharmacy-stores", headers=headers, params={"district_code": "140321"}
    )
    assert [s["id"] for s in response.json()["items"]] == [str(county_store.id)]
    assert response.json()["items"][0]["covered_district_codes"] == ["140321"]
