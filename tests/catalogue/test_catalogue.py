"""The catalogue is effective-dated: changes take effect from a future date, never rewrite the
past, and decisions remember the edition they were taken under."""

from __future__ import annotations

from datetime import timedelta

from app.catalogue import service as catalogue_service
from app.kit.clock import city_date
from app.models import Role
from tests.enrollment import builders
from tests.fixtures import factories


def _edition(effective_from, *, hypertension_online: bool = True, limit: int = 600_000) -> dict:
    return {
        "effective_from": effective_from.isoformat(),
        "note": "2027 revision",
        "entries": [
            {
                "disease_code": "M01603",
                "online_admitted": True,
                "annual_limits_fen": {"310": limit, "390": limit - 100_000},
            },
            {
                "disease_code": "M03902",
                "online_admitted": hypertension_online,
                "annual_limits_fen": {"310": 300_000, "390": 200_000},
            },
        ],
    }


async def _admin(db_session, settings) -> dict[str, str]:
    return await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )


async def test_the_catalogue_in_force_lists_diseases_with_limits(client, db_session, settings):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    body = (await client.get("/api/v1/catalogue", headers=headers)).json()
    entries = {e["disease_code"]: e for e in body["entries"]}
    assert entries["M01603"]["online_admitted"] is True
    assert entries["M01600"]["online_admitted"] is False
    assert entries["M01603"]["annual_limits_fen"] == {"310": 500_000, "390": 400_000}


async def test_a_change_takes_effect_from_its_date_and_leaves_today_alone(
    client, db_session, settings
):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    tomorrow = city_date() + timedelta(days=1)
    response = await client.post(
        "/api/v1/catalogue/editions",
        json=_edition(tomorrow, hypertension_online=False, limit=650_000),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    today_view = (await client.get("/api/v1/catalogue", headers=headers)).json()
    later = (
        await client.get("/api/v1/catalogue", params={"on": tomorrow.isoformat()}, headers=headers)
    ).json()
    today_entries = {e["disease_code"]: e for e in today_view["entries"]}
    later_entries = {e["disease_code"]: e for e in later["entries"]}
    assert today_entries["M03902"]["online_admitted"] is True
    assert today_entries["M01603"]["annual_limits_fen"]["310"] == 500_000
    assert later_entries["M03902"]["online_admitted"] is False
    assert later_entries["M01603"]["annual_limits_fen"]["310"] == 650_000
    assert "M01600" not in later_entries  # removed from the catalogue from tomorrow


async def test_a_change_dated_today_or_earlier_is_refused(client, db_session, settings):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    for day in (city_date(), city_date() - timedelta(days=10)):
        response = await client.post(
            "/api/v1/catalogue/editions", json=_edition(day), headers=headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "catalogue_change_in_past"
    editions = (await client.get("/api/v1/catalogue/editions", headers=headers)).json()["items"]
    assert [e["effective_from"] for e in editions] == ["2020-01-01"]


async def test_two_editions_on_one_date_are_refused(client, db_session, settings):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    day = city_date() + timedelta(days=30)
    assert (
        await client.post("/api/v1/catalogue/editions", json=_edition(day), headers=headers)
    ).status_code == 201
    again = await client.post("/api/v1/catalogue/editions", json=_edition(day), headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "catalogue_edition_date_taken"


async def test_an_edition_needs_a_limit_for_every_insurance_type(client, db_session, settings):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    body = _edition(city_date() + timedelta(days=5))
    body["entries"][0]["annual_limits_fen"] = {"310": 1}
    response = await client.post("/api/v1/catalogue/editions", json=body, headers=headers)
    assert response.status_code == 409 and response.json()["code"] == "catalogue_limits_incomplete"


async def test_an_unknown_disease_code_is_refused(client, db_session, settings):
    await builders.catalogue(db_session)
    headers = await _admin(db_session, settings)
    body = _edition(city_date() + timedelta(days=5))
    body["entries"][0]["disease_code"] = "M99999"
    response = await client.post("/api/v1/catalogue/editions", json=body, headers=headers)
    assert response.status_code == 404 and response.json()["code"] == "catalogue_disease_unknown"


async def test_the_annual_limit_is_read_as_of_a_date(db_session, settings):
    await builders.catalogue(db_session)
    diseases = await builders.diseases(db_session)
    today = city_date()
    assert (
        await catalogue_service.annual_limit_fen(db_session, diseases["M01603"].id, "390", today)
        == 400_000
    )
    before_the_catalogue = today.replace(year=2019)
    assert (
        await catalogue_service.annual_limit_fen(
            db_session, diseases["M01603"].id, "390", before_the_catalogue
        )
        is None
    )
