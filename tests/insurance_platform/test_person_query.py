"""1101 as the authoritative identity source: a clerk asks, the platform's answer (not the
clerk, not the patient) becomes the verified identity; refusals and timeouts reach the clerk as
problem+json; staff attestation gives way where the platform is configured."""

from __future__ import annotations

import json
from pathlib import Path

from app.identity.sources import PersonRecord
from app.insurance_platform.persons import PlatformPersonSource, person_record
from app.models import Role
from tests.fixtures import factories
from tests.insurance_platform.conftest import add_person, behave, received

EXAMPLES = Path(__file__).parent / "examples"
DECLARE = "/api/v1/patients/me/identity/declarations"


def _platform_url(patient_id) -> str:
    return f"/api/v1/identity/patients/{patient_id}/platform-verifications"


async def _clerk(db_session, settings) -> dict[str, str]:
    account = await factories.account(db_session, Role.bureau)
    return await factories.bearer(db_session, settings, account)


async def _patient(db_session, settings):
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    return patient, await factories.bearer(db_session, settings, account)


def test_the_specifications_example_answer_reads_as_an_employee_with_an_account() -> None:
    example = json.loads((EXAMPLES / "spec_1101_answer.json").read_text(encoding="utf-8"))
    record = person_record(example["output"], "131002", "H00000000001202001041235391234")
    assert record == PersonRecord(
        national_id="510000202001010000",
        insurance_type="310",
        insured_area="131002",
        personal_account=True,
        personal_account_balance_fen=500_000,
        source="insurer_platform",
        reference="H00000000001202001041235391234",
    )
    # Insured elsewhere: nothing about this area.
    assert person_record(example["output"], "140300", "x") is None


async def test_a_resident_is_found_as_the_platform_says(platform, platform_http) -> None:
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390", balc="12.34")
    record = await PlatformPersonSource(platform).look_up(certno.lower(), "140300")
    assert record is not None
    assert (record.national_id, record.insurance_type, record.personal_account) == (
        certno,
        "390",
        False,
    )
    assert record.personal_account_balance_fen == 0
    assert record.reference == (await received(platform_http))[-1]["msgid"]


async def test_the_platform_not_the_patient_sets_the_insured_identity(
    client, platform_app, platform_http, db_session, settings
) -> None:
    patient, patient_h = await _patient(db_session, settings)
    certno = factories.resident_id()
    # The patient says employee (310); the platform knows a resident (390).
    declared = {"national_id": certno, "insurance_type": "310", "insured_area": "140300"}
    assert (await client.post(DECLARE, json=declared, headers=patient_h)).status_code == 202
    await add_person(platform_http, certno, "390")
    # The patient cannot ask for it themselves.
    body = {"national_id": certno, "insured_area": "140300"}
    mine = await client.post(_platform_url(patient.id), json=body, headers=patient_h)
    assert mine.status_code == 403
    clerk_h = await _clerk(db_session, settings)
    answer = await client.post(_platform_url(patient.id), json=body, headers=clerk_h)
    assert answer.status_code == 201, answer.text
    verified = answer.json()
    assert (verified["source"], verified["insurance_type"]) == ("insurer_platform", "390")
    assert verified["source_reference"] == (await received(platform_http))[-1]["msgid"]
    status = await client.get(f"/api/v1/identity/patients/{patient.id}", headers=clerk_h)
    assert status.json()["differences"] == ["insurance_type"]
    assert status.json()["settleable"] is False


async def test_an_employee_gets_the_platforms_account_balance(
    client, platform_app, platform_http, db_session, settings
) -> None:
    patient, _ = await _patient(db_session, settings)
    certno = factories.resident_id()
    await add_person(platform_http, certno, "310", balc="1523.07")
    answer = await client.post(
        _platform_url(patient.id),
        json={"national_id": certno, "insured_area": "140300"},
        headers=await _clerk(db_session, settings),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["personal_account"] is True
    assert answer.json()["personal_account_available_fen"] == 152_307


async def test_no_current_insurance_in_the_area_is_not_found(
    client, platform_app, platform_http, db_session, settings
) -> None:
    patient, _ = await _patient(db_session, settings)
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390", area="140100")
    answer = await client.post(
        _platform_url(patient.id),
        json={"national_id": certno, "insured_area": "140300"},
        headers=await _clerk(db_session, settings),
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "insured_person_not_found"


async def test_a_refusal_reaches_the_clerk_with_the_platforms_words(
    client, platform_app, platform_http, db_session, settings
) -> None:
    patient, _ = await _patient(db_session, settings)
    await behave(platform_http, refuse_with="参保人已暂停参保")
    clerk_h = await _clerk(db_session, settings)
    body = {"national_id": factories.resident_id(), "insured_area": "140300"}
    answer = await client.post(_platform_url(patient.id), json=body, headers=clerk_h)
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "insurance_platform_refused"
    assert problem["detail"] == "医保信息平台拒绝了本次交易：参保人已暂停参保"
    assert (problem["infcode"], problem["err_msg"]) == (-1, "参保人已暂停参保")
    english = await client.post(
        _platform_url(patient.id), json=body, headers={**clerk_h, "Accept-Language": "en"}
    )
    assert english.json()["detail"].startswith("The medical insurance platform refused")


async def test_a_timeout_is_a_clear_504(
    client, platform_app, platform, platform_http, db_session, settings
) -> None:
    patient, _ = await _patient(db_session, settings)
    await platform.sign_no()
    await behave(platform_http, delay_seconds=5)
    answer = await client.post(
        _platform_url(patient.id),
        json={"national_id": factories.resident_id(), "insured_area": "140300"},
        headers=await _clerk(db_session, settings),
    )
    assert answer.status_code == 504
    assert answer.json()["code"] == "insurance_platform_timeout"
    assert answer.json()["detail"] == "医保信息平台未在规定时间内应答，请稍后重试"


async def test_staff_attestation_gives_way_to_the_platform_and_the_reverse(
    client, app, db_session, settings
) -> None:
    patient, _ = await _patient(db_session, settings)
    clerk_h = await _clerk(db_session, settings)
    number = factories.resident_id()
    attested = {"national_id": number, "insurance_type": "390", "insured_area": "140300"}
    lookup = {"national_id": number, "insured_area": "140300"}
    # Not configured: the clerk attests, and there is no platform to ask.
    unconfigured = await client.post(_platform_url(patient.id), json=lookup, headers=clerk_h)
    assert unconfigured.status_code == 409
    assert unconfigured.json()["code"] == "insurance_platform_not_configured"
    app.state.identity_source = object()
    configured = await client.post(
        f"/api/v1/identity/patients/{patient.id}/verifications", json=attested, headers=clerk_h
    )
    assert configured.status_code == 409
    assert configured.json()["code"] == "identity_verified_by_platform"
