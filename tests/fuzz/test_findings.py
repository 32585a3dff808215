"""What the fuzz found, one regression test each: every one was a 500, or a response that broke
its own declared schema, before it was fixed."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from app.kit.pagination import encode_cursor
from app.models import CareTeam, Role
from tests.fixtures import factories
from tests.reading.helpers import doctor_for, wearer


def _refused_as_malformed(response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_failed"


@pytest.mark.parametrize("field", ["gender", "insurance_type"])
async def test_a_profile_field_every_patient_has_cannot_be_cleared(
    client, db_session, settings, field
) -> None:
    """Was: NOT NULL constraint failed (500)."""
    account = await factories.account(db_session, Role.patient)
    headers = await factories.bearer(db_session, settings, account)
    _refused_as_malformed(
        await client.patch("/api/v1/patients/me", json={field: None}, headers=headers)
    )
    kept = await client.patch("/api/v1/patients/me", json={"name": "李四"}, headers=headers)
    assert kept.status_code == 200 and kept.json()[field] is not None


async def test_a_team_at_an_unknown_institution_is_404(client, db_session, settings) -> None:
    """Was: FOREIGN KEY constraint failed (500)."""
    teams_before = await db_session.scalar(select(func.count()).select_from(CareTeam))
    admin = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )
    doctor = await factories.doctor_of(db_session, await factories.account(db_session, Role.doctor))
    response = await client.post(
        "/api/v1/care/teams",
        json={
            "institution_id": str(uuid.uuid4()),
            "name": "家庭医生团队",
            "members": [{"doctor_id": str(doctor.id), "role": "family_doctor"}],
        },
        headers=admin,
    )
    assert response.status_code == 404 and response.json()["code"] == "institution_not_found"
    assert await db_session.scalar(select(func.count()).select_from(CareTeam)) == teams_before


async def test_working_hours_are_wall_clock_times_as_declared(
    app: FastAPI, client, db_session, settings
) -> None:
    """Was: the answer's "12:42:38" broke its declared format "time" (RFC 3339 needs an offset),
    and "12:42:38Z" was taken as a Shanghai wall time."""
    account = await factories.account(db_session, Role.doctor)
    headers = await factories.bearer(db_session, settings, account)
    url = "/api/v1/doctors/me/working-hours"
    with_offset = [{"weekday": 1, "starts_at": "08:00Z", "ends_at": "12:00"}]
    _refused_as_malformed(await client.put(url, json=with_offset, headers=headers))
    hours = [{"weekday": 1, "starts_at": "08:00", "ends_at": "12:00:30"}]
    answer = await client.put(url, json=hours, headers=headers)
    assert answer.status_code == 200, answer.text
    declared = app.openapi()["components"]["schemas"]["WorkingHoursOut"]["properties"]
    for slot in answer.json()["working_hours"]:
        for name in ("starts_at", "ends_at"):
            assert "format" not in declared[name]
            assert re.fullmatch(declared[name]["pattern"], slot[name]), slot


async def test_a_statement_month_outside_the_calendar_is_422(client, db_session, settings) -> None:
    """Was: ValueError "year 0 is out of range" (500)."""
    bureau = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    for month in ("0000-01", "9999-12"):
        response = await client.post(
            "/api/v1/insurance/statements",
            json={"institution_id": str(uuid.uuid4()), "month": month},
            headers=bureau,
        )
        _refused_as_malformed(response)


# Times a client may send that have no UTC equivalent, no next day, or no offset at all.
BAD_INSTANTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T08:00:00"]
BAD_DATES = ["0001-01-01", "9999-12-31"]


async def test_query_times_the_service_cannot_hold_are_422(client, db_session, settings) -> None:
    """Was: OverflowError "date value out of range" or "naive datetime refused" (500)."""
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    bureau = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    readings = f"/api/v1/patients/{who.patient.id}/readings"
    for value in BAD_INSTANTS:
        # Lists that resume after a time carry it in their cursor: the same times are refused.
        cursor = encode_cursor((value,))
        for url, headers in (
            (f"/api/v1/alerts?cursor={cursor}", doctor),
            (f"/api/v1/insurance/flags?cursor={cursor}", bureau),
            (f"/api/v1/insurance/settlements?cursor={cursor}", who.headers),
            (f"/api/v1/payments/receipts?cursor={cursor}", who.headers),
            (f"{readings}?since={value}", who.headers),
            (f"{readings}?until={value}", who.headers),
            (f"{readings}?cursor={cursor}", who.headers),
        ):
            response = await client.get(url.replace("+", "%2B"), headers=headers)
            assert response.status_code == 422, (url, response.status_code)


async def test_query_dates_the_service_cannot_hold_are_422(client, db_session, settings) -> None:
    """Was: OverflowError "date value out of range" (500) from the analytics periods."""
    who = await wearer(db_session, settings)
    patient = f"/api/v1/patients/{who.patient.id}"
    for value in BAD_DATES:
        for url in (
            f"/api/v1/catalogue?on={value}",
            f"{patient}/cgm-summary?end_date={value}",
            f"{patient}/bp-summary?end_date={value}",
            f"{patient}/charts/agp.svg?end_date={value}",
            f"{patient}/fhir?end_date={value}",
        ):
            response = await client.get(url, headers=who.headers)
            assert response.status_code == 422, (url, response.status_code)


async def test_body_dates_the_service_cannot_hold_are_422(client, db_session, settings) -> None:
    """Was: OverflowError scheduling follow-ups after 9999-12-31 (500)."""
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    for value in BAD_DATES:
        plan = {
            "patient_id": str(who.patient.id),
            "discharged_on": value,
            "interval_days": 14,
            "review_items": ["HbA1c"],
        }
        response = await client.post("/api/v1/care/follow-up-plans", json=plan, headers=doctor)
        _refused_as_malformed(response)


def test_every_error_is_documented_as_problem_json(app: FastAPI) -> None:
    """Was: 422 documented as FastAPI's HTTPValidationError (application/json), never sent, and
    no other error documented at all."""
    document = app.openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            default = responses["default"]["content"]
            assert default == {"application/problem+json": {"schema": problem}}, (method, path)
            if "422" in responses:
                assert responses["422"]["content"]["application/problem+json"]["schema"] == problem
