"""CGM and BP summaries, charts, FHIR export and the doctor's panel, through the API."""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.bundle import Bundle
from PIL import Image

from app.analytics.charts import agp_spec
from app.analytics.schemas import CgmSummaryOut
from app.kit.clock import frozen_at, utcnow
from tests.reading.helpers import bp_item, cgm_item, doctor_for, upload, wearer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _today_at(hour: int, minute: int = 0) -> datetime:
    today = utcnow().astimezone(SHANGHAI).date()
    return datetime.combine(today, time(hour, minute), SHANGHAI).astimezone(UTC)


@pytest.mark.parametrize(
    ("unit", "values"),
    [
        ("mmol/L", [2.9, 3.0, 3.8, 3.9, 10.0, 10.1, 13.9, 14.0]),
        ("mg/dL", [53, 54, 69, 70, 180, 181, 250, 251]),
    ],
)
async def test_boundary_values_land_in_their_bands(
    client, db_session, settings, unit, values
) -> None:
    # Midday in the city, so the eight readings fall on one local day whenever the suite runs
    # (the patient signs in at that moment too: tokens are judged by the service's clock).
    with frozen_at(_today_at(12, 0)):
        who = await wearer(db_session, settings, cgm_unit=unit)
        start = utcnow() - timedelta(minutes=50)
        items = [
            cgm_item(who.cgm, start + timedelta(minutes=5 * i), v) for i, v in enumerate(values)
        ]
        await upload(client, who.headers, items)
        url = f"/api/v1/patients/{who.patient.id}/cgm-summary?days=1"
        body = (await client.get(url, headers=who.headers)).json()
    # One 5-minute reading per edge value: each band's share counts its readings (of 8).
    assert body["metrics"]["time_in_ranges"] == pytest.approx(
        {"very_low": 12.5, "low": 25.0, "in_range": 25.0, "high": 25.0, "very_high": 12.5}
    )
    assert body["metrics"]["readings"] == 8
    mg = [round(v * 18.016, 2) if unit == "mmol/L" else v for v in values]
    assert body["metrics"]["mean_mg_dl"] == pytest.approx(sum(mg) / 8)


async def test_agp_uses_the_patients_local_time(client, db_session, settings) -> None:
    at = _today_at(0, 30)  # 00:30 in Shanghai = 16:30 UTC the day before
    with frozen_at(_today_at(12, 0)):  # the reading is in the past whenever the suite runs
        who = await wearer(db_session, settings, cgm_unit="mg/dL")
        await upload(client, who.headers, [cgm_item(who.cgm, at, 123, backfill=True)])
        url = f"/api/v1/patients/{who.patient.id}/cgm-summary?days=1"
        agp = (await client.get(url, headers=who.headers)).json()["agp"]
    by_minute = dict(zip(agp["minute_of_day"], agp["p50"], strict=True))
    # Bin c covers [c - 30, c + 30): a reading at 00:30 is in the bins of 00:15 .. 01:00.
    assert [by_minute[m] for m in (15, 30, 45, 60)] == [123.0] * 4
    assert by_minute[0] is None and by_minute[75] is None


async def test_bp_summary(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    day = utcnow() - timedelta(days=1)
    base = datetime.combine(day.astimezone(SHANGHAI).date(), time(), SHANGHAI)
    items = [bp_item(who.bp, base + timedelta(hours=h), 150, 95) for h in (8, 10, 12, 14)]
    items += [bp_item(who.bp, base + timedelta(hours=h), 120, 70) for h in (1, 3)]
    await upload(client, who.headers, items)
    url = f"/api/v1/patients/{who.patient.id}/bp-summary?days=3"
    body = (await client.get(url, headers=who.headers)).json()
    abpm = body["ambulatory"]
    # No diary, no wake flags: the fixed windows (awake 09-21, asleep 01-06); 08:00 is in
    # neither and counts for 24 h only.
    assert abpm["sleep_source"] == "fixed_windows"
    assert abpm["awake"]["readings"] == 3 and abpm["awake"]["systolic"]["mean"] == 150.0
    assert abpm["asleep"]["readings"] == 2 and abpm["asleep"]["diastolic"]["mean"] == 70.0
    assert abpm["all_day"]["systolic"]["mean"] == pytest.approx(140.0)
    # 120 / 150 = 0.8 exactly: an extreme dipper.
    assert abpm["systolic_dipping"] == {"ratio": 0.8, "percent": 20.0, "pattern": "extreme_dipper"}
    assert abpm["above_24h_threshold"] is True and abpm["valid"] is False
    # Ambulatory means are not graded: the grade is for office readings only.
    assert body["office"] == {
        "readings": 0,
        "systolic": None,
        "diastolic": None,
        "grade": None,
        "hypertension": None,
    }
    assert body["phenotype"] is None


@pytest.mark.parametrize("chart", ["agp", "bp-trend"])
async def test_charts_render_as_svg_and_png(client, db_session, settings, chart) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=5 * i), 5 + (i % 30) / 5) for i in range(300)
    ]
    items += [bp_item(who.bp, now - timedelta(hours=3 * i), 130 + i, 85) for i in range(8)]
    await upload(client, who.headers, items)
    base = f"/api/v1/patients/{who.patient.id}/charts/{chart}"
    svg = await client.get(f"{base}.svg", headers=who.headers)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
    assert svg.content.startswith(b"<?xml") and b"<svg" in svg.content
    png = await client.get(f"{base}.png", headers=who.headers)
    assert png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content))
    assert image.size[0] >= 1000
    assert len(set(image.convert("L").get_flattened_data())) > 20  # not blank
    assert (await client.get(f"{base}.gif", headers=who.headers)).status_code == 422


def test_the_chart_font_has_the_chinese_glyphs() -> None:
    from fontTools.ttLib import TTFont
    from pylopdf_fonts_zh_cn import sans_path

    cmap = TTFont(str(sans_path())).getBestCmap()
    assert all(ord(ch) in cmap for ch in "动态葡萄糖图谱目标范围血压趋势夜间下降率")


async def test_fhir_export_is_a_valid_bundle(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [cgm_item(who.cgm, now - timedelta(minutes=5 * i), 6.0 + i / 10) for i in range(5)]
    items += [
        cgm_item(who.cgm, now - timedelta(minutes=30), None, flag="low"),
        bp_item(who.bp, now - timedelta(minutes=1), 138, 88),
        {"kind": "hr", "device_id": str(who.ecg.id), "measured_at": now.isoformat(), "bpm": 66},
        {
            "kind": "bg",
            "device_id": str(who.meter.id),
            "measured_at": now.isoformat(),
            "value": 7.1,
        },
    ]
    assert (await upload(client, who.headers, items))["accepted"] == 9
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    assert response.headers["content-type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.content)
    observations = [
        e.resource for e in bundle.entry if e.resource.get_resource_type() == "Observation"
    ]
    codes = sorted(o.code.coding[0].code for o in observations)
    assert codes.count("99504-3") == 6
    assert {
        "85354-9",
        "8867-4",
        "2339-0",
        "97507-8",
        "97506-0",
        "104638-2",
        "104637-4",
        "106793-3",
    } <= set(codes)
    [panel] = [o for o in observations if o.code.coding[0].code == "85354-9"]
    assert {c.code.coding[0].code: c.valueQuantity.value for c in panel.component} == {
        "8480-6": 138,
        "8462-4": 88,
    }
    references = {o.subject.reference for o in observations}
    assert references == {f"urn:uuid:{who.patient.id}"}


async def test_panel_orders_by_urgency_and_matches_the_summary(
    client, db_session, settings
) -> None:
    calm = await wearer(db_session, settings)
    urgent = await wearer(db_session, settings)
    _, doctor, headers = await doctor_for(db_session, settings, calm.patient)
    from tests.fixtures import factories

    await factories.care(db_session, urgent.patient, doctor)
    now = utcnow()
    series = [
        cgm_item(calm.cgm, now - timedelta(minutes=5 * i), 4 + (i % 50) / 5) for i in range(600)
    ]
    await upload(client, calm.headers, series[:300])
    await upload(client, calm.headers, series[300:])
    await upload(
        client,
        calm.headers,
        [
            bp_item(calm.bp, now, 150, 90),
            bp_item(calm.bp, now - timedelta(hours=1), 130, 80),
            # A cuff artefact (SBP 262): counted as excluded, never averaged.
            bp_item(calm.bp, now - timedelta(hours=2), 262, 90),
        ],
    )
    await upload(client, urgent.headers, [cgm_item(urgent.cgm, now, 2.6)])
    panel = (await client.get("/api/v1/panel", headers=headers)).json()
    assert [e["patient_id"] for e in panel["items"]] == [
        str(urgent.patient.id),
        str(calm.patient.id),
    ]
    first, second = panel["items"]
    assert (first["urgency_level"], first["urgency_reasons"]) == (3, ["urgent_low"])
    assert first["latest"]["cgm"]["value_mmol_l"] == 2.6
    assert (second["bp_readings"], second["bp_excluded"], second["bp_mean_systolic"]) == (
        2, 1, 140.0,
    )  # fmt: skip
    summary = (
        await client.get(f"/api/v1/patients/{calm.patient.id}/cgm-summary", headers=headers)
    ).json()["metrics"]
    for name in (
        "readings",
        "days_with_data",
        "mean_mg_dl",
        "sd_mg_dl",
        "cv_percent",
        "gmi_percent",
    ):
        assert second["cgm"][name] == pytest.approx(summary[name])
    assert second["cgm"]["time_in_ranges"] == pytest.approx(summary["time_in_ranges"])
    assert second["cgm"]["active_percent"] == pytest.approx(summary["active_percent"], abs=0.05)


async def test_summaries_are_hidden_from_other_doctors(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    stranger = await wearer(db_session, settings)
    _, _, headers = await doctor_for(db_session, settings, stranger.patient)
    for path in ("cgm-summary", "bp-summary", "charts/agp.svg", "fhir"):
        url = f"/api/v1/patients/{who.patient.id}/{path}"
        assert (await client.get(url, headers=headers)).status_code == 404


async def test_without_cgm_data_the_summary_shows_no_band_at_all(client, db_session, settings):
    # A doctor opening a patient who sent only BP must not read "0 % in range".
    who = await wearer(db_session, settings)
    await upload(client, who.headers, [bp_item(who.bp, utcnow(), 120, 80)])
    url = f"/api/v1/patients/{who.patient.id}"
    summary = (await client.get(f"{url}/cgm-summary", headers=who.headers)).json()
    assert (summary["metrics"]["readings"], summary["metrics"]["time_in_ranges"]) == (0, None)
    # The AGP report's bars are empty and say "—", not 0.0 %.
    spec = agp_spec(CgmSummaryOut.model_validate(summary), None)
    assert spec.shares == (0.0,) * 5
    assert all(label.endswith("  —") for label in spec.band_labels), spec.band_labels
    svg = await client.get(f"{url}/charts/agp.svg", headers=who.headers)
    assert svg.status_code == 200
