"""Each prescribing rule is a clear refusal (409 with its own code) and nothing is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.kit.clock import city_date
from app.models import Prescription
from tests.fixtures import factories
from tests.prescription.world import World, item, ok, rx_body

URL = "/api/v1/prescriptions"


async def _refused(client, world: World, body: dict, code: str, status: int = 409) -> None:
    response = await client.post(URL, json=body, headers=world.as_("doctor"))
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def _count(db_session) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(Prescription)))


async def test_a_valid_prescription_is_priced_in_packs(client, world: World) -> None:
    body = rx_body(world, item(world.drugs.metformin, "1", "bid", 7))
    created = await ok(await client.post(URL, json=body, headers=world.as_("doctor")), 201)
    # 2 tablets a day for 7 days = 14 tablets -> one pack of 20 at 15.80 yuan.
    assert created["status"] == "draft"
    assert created["items"][0]["packs"] == 1 and created["total_fen"] == 1580
    assert created["valid_until"] == city_date().isoformat()


async def test_first_visits_are_not_prescribed_online(client, world, db_session) -> None:
    await _refused(
        client, world, rx_body(world, visit_kind="first_visit"), "first_visit_not_online"
    )
    assert await _count(db_session) == 0


async def test_controlled_drugs_are_refused(client, world: World) -> None:
    body = rx_body(world, item(world.drugs.estazolam, "1", "qn", 7))
    await _refused(client, world, body, "controlled_drug_not_online")


async def test_drug_outside_the_formulary_is_refused(client, world, db_session) -> None:
    from tests.prescription.world import drug

    other = await drug(db_session, "格列美脲", 1000)
    await _refused(client, world, rx_body(world, item(other)), "drug_not_in_formulary")


async def test_normal_supply_is_at_most_seven_days(client, world: World) -> None:
    body = rx_body(world, item(world.drugs.metformin, days=8))
    await _refused(client, world, body, "days_supply_exceeds_normal")


async def test_long_prescription_needs_a_stable_patient(client, world: World) -> None:
    body = rx_body(world, item(world.drugs.metformin, days=28), is_long=True)
    await _refused(client, world, body, "long_prescription_not_stable")


async def test_validity_is_at_most_three_days(client, world: World) -> None:
    await _refused(client, world, rx_body(world, valid_days=4), "validity_too_long")
    created = await ok(
        await client.post(URL, json=rx_body(world, valid_days=3), headers=world.as_("doctor")), 201
    )
    assert created["valid_days"] == 3


async def test_duplicate_therapy_within_one_prescription(client, world: World) -> None:
    body = rx_body(world, item(world.drugs.metformin), item(world.drugs.phenformin))
    await _refused(client, world, body, "duplicate_therapy")


async def test_duplicate_therapy_with_a_live_prescription(client, world: World) -> None:
    from tests.prescription.world import signed

    await signed(client, world)
    await _refused(client, world, rx_body(world, item(world.drugs.phenformin)), "duplicate_therapy")


async def test_a_draft_does_not_count_as_therapy_in_use(client, world: World) -> None:
    await ok(await client.post(URL, json=rx_body(world), headers=world.as_("doctor")), 201)
    await ok(
        await client.post(
            URL, json=rx_body(world, item(world.drugs.phenformin)), headers=world.as_("doctor")
        ),
        201,
    )


async def test_maximum_daily_dose(client, world: World) -> None:
    # 3 tablets three times a day = 9 > 4 a day.
    body = rx_body(world, item(world.drugs.metformin, "3", "tid"))
    response = await client.post(URL, json=body, headers=world.as_("doctor"))
    assert response.status_code == 409 and response.json()["code"] == "dose_exceeds_maximum"
    assert "4" in response.json()["detail"]


async def test_no_prescription_once_the_entitlement_has_ended(
    client, world: World, db_session
) -> None:
    world.entitlement.valid_until = world.entitlement.valid_from
    await db_session.flush()
    await _refused(client, world, rx_body(world), "entitlement_expired")


async def test_supply_may_not_outlast_the_entitlement(client, world: World, db_session) -> None:
    world.entitlement.valid_until = city_date()
    await db_session.flush()
    body = rx_body(world, item(world.drugs.metformin, days=3))
    await _refused(client, world, body, "supply_beyond_entitlement")


async def test_not_entitled_for_the_disease(client, world: World, db_session) -> None:
    # The patient's only entitlement is for another disease (an entitlement is never deleted:
    # its verified identity binding is append-only history).
    other = await factories.disease(
        db_session,
        code="M0999",
        national_code="M01700",
        name_zh="高血压病（3级）",
        name_en="Hypertension grade 3",
    )
    world.entitlement.disease_id = other.id
    await db_session.flush()
    await _refused(client, world, rx_body(world), "not_entitled")


async def test_only_the_patients_own_doctor_may_prescribe(
    client, world, db_session, settings
) -> None:
    stranger = await factories.account(db_session, factories.Role.doctor)
    headers = await factories.bearer(db_session, settings, stranger)
    response = await client.post(URL, json=rx_body(world), headers=headers)
    assert response.status_code == 404


async def test_an_ended_care_relationship_no_longer_allows_prescribing(
    client, world: World, db_session, settings
) -> None:
    other_account = await factories.account(db_session, factories.Role.doctor)
    other = await factories.doctor_of(db_session, other_account)
    await factories.care(db_session, world.patient, other, ended=True)
    headers = await factories.bearer(db_session, settings, other_account)
    assert (await client.post(URL, json=rx_body(world), headers=headers)).status_code == 404


@pytest.mark.parametrize("role", ["patient", "pharmacist", "courier", "reviewer"])
async def test_only_doctors_write_prescriptions(client, world: World, role: str) -> None:
    response = await client.post(URL, json=rx_body(world), headers=world.as_(role))
    assert response.status_code == 403


async def test_a_retried_create_returns_the_first_prescription(client, world, db_session) -> None:
    headers = {**world.as_("doctor"), "Idempotency-Key": "rx-create-1"}
    first = await ok(await client.post(URL, json=rx_body(world), headers=headers), 201)
    again = await ok(await client.post(URL, json=rx_body(world), headers=headers), 201)
    assert again["id"] == first["id"] and await _count(db_session) == 1
