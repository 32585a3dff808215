"""The BP summary, the sleep diary and the BP chart through the API: what uploads carry (wake
flags, where a reading was taken) is stored and used, and who may see or write what."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.analytics import chart_drawing, charts
from app.analytics import service as analytics_service
from app.analytics.repository import BpRows
from app.analytics.series import local_period
from app.i18n import set_language
from app.kit.clock import utcnow
from app.models import Role
from tests.fixtures import factories
from tests.reading.helpers import bp_item, doctor_for, upload, wearer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(days_ago: int, hour: int, minute: int = 0) -> datetime:
    day = utcnow().astimezone(SHANGHAI).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def _night(days_ago: int = 2) -> dict[str, str]:
    return {
        "bed_at": _local(days_ago, 23).isoformat(),
        "rise_at": _local(days_ago - 1, 7).isoformat(),
    }


async def _summary(client, who, headers=None, days: int = 4) -> dict:  # type: ignore[no-untyped-def]
    url = f"/api/v1/patients/{who.patient.id}/bp-summary?days={days}"
    response = await client.get(url, headers=headers or who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_wake_flags_and_setting_are_stored_and_used(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    items = [
        bp_item(who.bp, _local(2, 22), 150, 90, wake=False, setting="ambulatory"),  # in bed
        bp_item(who.bp, _local(2, 12), 140, 88, wake=True),
        bp_item(who.bp, _local(2, 10), 162, 96, setting="office"),
    ]
    report = await upload(client, who.headers, items)
    assert report["accepted"] == 3
    url = f"/api/v1/patients/{who.patient.id}/readings?kinds=bp"
    listed = {
        r["value"]: (r["awake"], r["setting"])
        for r in (await client.get(url, headers=who.headers)).json()["items"]
    }
    assert listed == {150: (False, "ambulatory"), 140: (True, None), 162: (None, "office")}
    body = await _summary(client, who)
    abpm = body["ambulatory"]
    # 22:00 is outside both fixed windows: only its wake flag puts it asleep.
    assert abpm["sleep_source"] == "wake_flags"
    assert abpm["asleep"]["systolic"]["mean"] == 150 and abpm["awake"]["systolic"]["mean"] == 140
    assert body["office"]["grade"] == "grade2" and body["office"]["readings"] == 1


async def test_bad_setting_is_rejected_per_item(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    item = bp_item(who.bp, _local(1, 10), 140, 90, setting="clinic")
    report = await upload(client, who.headers, [item])
    assert report["rejected"] == 1 and report["items"][0]["field"] == "setting"


async def test_the_diary_decides_asleep_and_awake(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    created = await client.post(
        f"/api/v1/patients/{who.patient.id}/bp-sleep-periods", json=_night(), headers=who.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "patient"
    items = [
        bp_item(who.bp, _local(2, 22, 30), 140, 85),  # awake by the diary (bed at 23:00)
        bp_item(who.bp, _local(2, 23, 30), 128, 75),  # asleep by the diary, not the clock
        bp_item(who.bp, _local(1, 6, 30), 130, 76),  # asleep
        bp_item(who.bp, _local(1, 7, 30), 150, 90),  # awake, after rising
    ]
    await upload(client, who.headers, items)
    abpm = (await _summary(client, who))["ambulatory"]
    assert abpm["sleep_source"] == "diary"
    assert abpm["asleep"]["systolic"]["mean"] == 129.0
    assert abpm["awake"]["systolic"]["mean"] == 145.0
    assert abpm["systolic_dipping"]["ratio"] == pytest.approx(129 / 145)
    surge = abpm["morning_surge"]
    assert datetime.fromisoformat(surge["rise_at"]) == _local(1, 7)
    assert surge["morning_systolic"] == 150.0 and surge["prewaking"] == 20.0


async def test_the_same_night_again_is_the_stored_one(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    url = f"/api/v1/patients/{who.patient.id}/bp-sleep-periods"
    first = await client.post(url, json=_night(), headers=who.headers)
    again = await client.post(url, json=_night(), headers=who.headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    listed = await client.get(url, headers=who.headers)
    assert [p["id"] for p in listed.json()["items"]] == [first.json()["id"]]


async def test_another_rise_time_for_a_stored_bed_time_is_a_conflict(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    url = f"/api/v1/patients/{who.patient.id}/bp-sleep-periods"
    await client.post(url, json=_night(), headers=who.headers)
    other = {**_night(), "rise_at": _local(1, 6).isoformat()}
    response = await client.post(url, json=other, headers=who.headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "sleep_period_conflict"
    overlapping = {"bed_at": _local(1, 1).isoformat(), "rise_at": _local(1, 9).isoformat()}
    response = await client.post(
        url, json=overlapping, headers={**who.headers, "Accept-Language": "en"}
    )
    assert response.status_code == 409 and response.json()["code"] == "sleep_period_overlaps"
    assert "overlaps" in response.json()["detail"]


@pytest.mark.parametrize("hours", [0, -1, 19])
async def test_rise_must_follow_bed_within_a_night(client, db_session, settings, hours) -> None:
    who = await wearer(db_session, settings)
    bed = _local(2, 22)
    body = {"bed_at": bed.isoformat(), "rise_at": (bed + timedelta(hours=hours)).isoformat()}
    response = await client.post(
        f"/api/v1/patients/{who.patient.id}/bp-sleep-periods", json=body, headers=who.headers
    )
    assert response.status_code == 422


async def test_a_doctor_in_care_reads_and_writes_the_diary(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    _, _, headers = await doctor_for(db_session, settings, who.patient)
    url = f"/api/v1/patients/{who.patient.id}/bp-sleep-periods"
    body = {**_night(), "source": "device"}
    assert (await client.post(url, json=body, headers=headers)).status_code == 201
    assert len((await client.get(url, headers=who.headers)).json()["items"]) == 1
    assert (await _summary(client, who, headers))["patient_id"] == str(who.patient.id)


async def test_bp_data_is_hidden_from_everyone_else(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    other_patient = await wearer(db_session, settings)
    stranger = await wearer(db_session, settings)
    _, _, other_doctor = await doctor_for(db_session, settings, stranger.patient)
    staff = await factories.account(db_session, Role.admin)
    admin_headers = await factories.bearer(db_session, settings, staff)
    base = f"/api/v1/patients/{who.patient.id}"
    for headers in (other_patient.headers, other_doctor, admin_headers):
        for path in ("bp-summary", "bp-sleep-periods", "charts/bp-trend.svg"):
            assert (await client.get(f"{base}/{path}", headers=headers)).status_code == 404
        posted = await client.post(f"{base}/bp-sleep-periods", json=_night(), headers=headers)
        assert posted.status_code == 404
    listed = await client.get(f"{base}/bp-sleep-periods", headers=who.headers)
    assert listed.json() == {"items": [], "next": None}


async def test_the_chart_draws_every_reading_and_marks_artefacts(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    items = [bp_item(who.bp, _local(1, h), 140, 85) for h in (10, 12, 14)]
    items.append(bp_item(who.bp, _local(1, 16), 262, 90))
    await upload(client, who.headers, items)
    body = await _summary(client, who)
    assert body["editing"]["excluded"] == 1
    assert body["editing"]["reasons"]["systolic_out_of_range"] == 1
    assert body["ambulatory"]["awake"]["systolic"]["mean"] == 140.0
    response = await client.get(
        f"/api/v1/patients/{who.patient.id}/charts/bp-trend.png?days=4", headers=who.headers
    )
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


def test_the_chart_spec_reaches_every_reading(settings) -> None:
    moments = [datetime(2026, 12, 1, h, tzinfo=UTC) for h in (2, 4, 6, 8)]
    rows = BpRows(
        epochs=[m.timestamp() for m in moments],
        systolic=[140.0, 142.0, 262.0, 138.0],
        diastolic=[85.0, 86.0, 90.0, 84.0],
        pulse=[None] * 4,
        settings=[None] * 4,
        awake=[None] * 4,
    )
    period = local_period(SHANGHAI, date(2026, 12, 1), 1, datetime(2026, 12, 5, tzinfo=UTC))
    points, summary = analytics_service.summarise_bp(uuid.uuid4(), period, rows, [], settings)
    set_language("en")
    try:
        spec = charts.bp_spec(summary, points, "P", settings)
    finally:
        set_language("zh")
    assert spec.systolic.size == 4 and list(spec.excluded) == [0, 0, 1, 0]
    assert spec.y_range[1] >= 262 > chart_drawing.BP_Y_RANGE[1]  # the axis reaches the artefact
    assert list(spec.daily_systolic) == [140.0]  # the mean of the valid readings
    assert "1 excluded" in spec.title
    svg = chart_drawing.render(spec, "svg")
    assert svg.count(b"<svg") == 1
