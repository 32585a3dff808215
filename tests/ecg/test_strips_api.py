"""ECG strips through the API: upload shapes, idempotency, alerts, images, FHIR, access."""

from __future__ import annotations

import io
import json
import math
import re
from datetime import timedelta

import numpy as np
import pytest
from fhir.resources.R4B.observation import Observation
from PIL import Image
from sqlalchemy import func, select

from app.ecg.chart import MM_PER_INCH, PNG_DPI, page_mm
from app.kit.clock import utcnow
from app.models import Alert, EcgStrip, Role
from tests.ecg.helpers import RATE, apple_csv, beats_at, fhir_strip, irregular_beats, regular_beats
from tests.fixtures import factories
from tests.fixtures.wx import wx_upload_file
from tests.reading.helpers import doctor_for, wearer

CSV = {"Content-Type": "text/csv"}
FHIR = {"Content-Type": "application/fhir+json"}


def _recent(minutes: int = 10):
    # Whole seconds: the Apple export writes seconds.
    return (utcnow() - timedelta(minutes=minutes)).replace(microsecond=0)


async def _post_csv(client, headers, body: bytes):
    return await client.post("/api/v1/ecg-strips", content=body, headers={**headers, **CSV})


async def _count(db_session, model, *where) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(model).where(*where)))


async def test_apple_export_is_stored_analysed_and_idempotent(client, db_session, settings):
    who = await wearer(db_session, settings)
    beats = regular_beats(0.8)
    body = apple_csv(beats_at(beats, 30.0), _recent())
    first = await _post_csv(client, who.headers, body)
    assert first.status_code == 201, first.text
    strip = first.json()
    assert strip["status"] == "accepted"
    assert strip["source"] == "apple_csv" and strip["lead"] == "I"
    assert strip["sample_count"] == 30 * RATE and strip["duration_seconds"] == 30.0
    assert strip["device_rhythm"] == "sinus" and strip["device_rhythm_text"] == "Sinus Rhythm"
    assert strip["heart_rate_bpm"] == pytest.approx(75.0, abs=0.2)
    assert len(strip["r_peaks"]) == beats.size
    assert strip["possible_af"] is False

    again = await _post_csv(client, who.headers, body)
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate" and again.json()["id"] == strip["id"]
    assert await _count(db_session, EcgStrip, EcgStrip.patient_id == who.patient.id) == 1


async def test_other_samples_under_the_same_device_and_time_conflict(client, db_session, settings):
    who = await wearer(db_session, settings)
    at = _recent()
    first = await _post_csv(client, who.headers, apple_csv(beats_at(regular_beats(), 30.0), at))
    assert first.status_code == 201
    other = apple_csv(beats_at(regular_beats(0.9), 30.0), at)
    second = await _post_csv(client, who.headers, other)
    assert second.status_code == 409
    assert second.json()["code"] == "ecg_strip_conflict"
    assert second.headers["content-type"].startswith("application/problem+json")


async def test_fhir_upload_names_its_device_and_samples_are_kept_exactly(
    client, db_session, settings
):
    who = await wearer(db_session, settings)
    samples = np.round(beats_at(regular_beats(), 30.0))
    body = fhir_strip(samples, _recent(), rhythm="Sinus Rhythm", device_id=str(who.ecg.id))
    response = await client.post("/api/v1/ecg-strips", json=body, headers={**who.headers, **FHIR})
    assert response.status_code == 201, response.text
    strip = response.json()
    assert strip["device_id"] == str(who.ecg.id) and strip["source"] == "fhir"

    exported = await client.get(f"/api/v1/ecg-strips/{strip['id']}/fhir", headers=who.headers)
    assert exported.headers["content-type"] == "application/fhir+json"
    observation = Observation.model_validate_json(exported.content)
    codes = {c.code for c in observation.code.coding}
    assert {"11524-6", "131328"} <= codes
    by_code = {c.code.coding[0].code: c for c in observation.component}
    waveform = by_code["131329"].valueSampledData
    assert waveform.dimensions == 1
    assert float(waveform.period) == pytest.approx(1000 / RATE)
    values = float(waveform.origin.value) + float(waveform.factor) * np.array(
        waveform.data.split(), dtype=float
    )
    assert np.allclose(values, samples, rtol=0, atol=1e-9)  # µV: the mV upload
    assert float(by_code["8867-4"].valueQuantity.value) == pytest.approx(75.0, abs=0.2)
    assert float(by_code["8637-1"].valueQuantity.value) == pytest.approx(800.0, abs=2)
    assert by_code["8884-9"].valueCodeableConcept.coding[0].code == "sinus"


@pytest.mark.parametrize(
    ("file_path", "part_type"),
    [("wxfile://tmp_ecg.json", "application/octet-stream"), ("http://tmp/ecg.csv", "text/csv")],
    ids=["fhir-named-json", "apple-csv"],
)
async def test_the_mini_program_uploads_a_strip_with_wx_upload_file(
    client, db_session, settings, file_path, part_type
):
    # wx.uploadFile types a part by its extension, or not at all: the name then tells.
    who = await wearer(db_session, settings)
    beats = beats_at(regular_beats(), 30.0)
    if file_path.endswith(".json"):
        data = json.dumps(fhir_strip(np.round(beats), _recent(), device_id=str(who.ecg.id)))
        body, source = data.encode(), "fhir"
    else:
        body, source = apple_csv(beats, _recent()), "apple_csv"
    response = await wx_upload_file(
        client, "/api/v1/ecg-strips", who.headers, body, file_path, part_type
    )
    assert response.status_code == 201, response.text
    assert (response.json()["source"], response.json()["sample_count"]) == (source, 30 * RATE)


async def test_a_device_af_classification_is_kept_in_the_fhir_export(client, db_session, settings):
    who = await wearer(db_session, settings)
    body = apple_csv(beats_at(regular_beats(), 30.0), _recent(), "Atrial Fibrillation")
    strip = (await _post_csv(client, who.headers, body)).json()
    assert strip["device_rhythm"] == "af" and strip["rr_irregular"] is False
    assert strip["possible_af"] is True
    exported = await client.get(f"/api/v1/ecg-strips/{strip['id']}/fhir", headers=who.headers)
    observation = Observation.model_validate_json(exported.content)
    rhythm = next(c for c in observation.component if c.code.coding[0].code == "8884-9")
    assert rhythm.valueCodeableConcept.coding[0].code == "af"
    assert rhythm.valueCodeableConcept.text == "Atrial Fibrillation"
    assert observation.interpretation[0].coding[0].code == "A"


async def test_an_ecg_summary_af_rhythm_is_kept_in_the_patient_bundle(client, db_session, settings):
    who = await wearer(db_session, settings)
    item = {
        "kind": "ecg",
        "device_id": str(who.ecg.id),
        "measured_at": utcnow().isoformat(),
        "mean_bpm": 92,
        "min_bpm": 60,
        "max_bpm": 131,
        "rhythm": "af",
    }
    uploaded = await client.post("/api/v1/readings", json={"items": [item]}, headers=who.headers)
    assert uploaded.json()["accepted"] == 1
    bundle = (
        await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    ).json()
    ecg = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and "component" in e["resource"]
        and e["resource"]["code"]["coding"][0]["code"] == "8867-4"
    ]
    assert len(ecg) == 1
    Observation.model_validate(ecg[0])
    assert ecg[0]["component"][0]["code"]["coding"][0]["code"] == "8884-9"
    assert ecg[0]["component"][0]["valueCodeableConcept"]["coding"][0]["code"] == "af"


async def _doctor_alerts(client, headers) -> list[dict]:
    response = await client.get("/api/v1/alerts", headers=headers)
    assert response.status_code == 200
    return [a for a in response.json()["items"] if a["rule"] == "irregular_rhythm"]


async def test_irregular_rhythm_alerts_the_doctor_once_per_episode(client, db_session, settings):
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    irregular = beats_at(irregular_beats(), 30.0)
    for minutes in (50, 40):
        body = apple_csv(irregular + minutes, _recent(minutes), "Inconclusive")
        assert (await _post_csv(client, who.headers, body)).json()["rr_irregular"] is True
    alerts = await _doctor_alerts(client, doctor)
    assert len(alerts) == 1
    assert alerts[0]["title"] == "心律不齐（疑似房颤）"
    assert alerts[0]["value_mmol_l"] is None
    assert alerts[0]["episode_ended_at"] is None
    # A regular strip ends the episode; the next irregular one is a new episode.
    regular = apple_csv(beats_at(regular_beats(), 30.0), _recent(30))
    assert (await _post_csv(client, who.headers, regular)).status_code == 201
    again = apple_csv(irregular + 1, _recent(20), "Atrial Fibrillation")
    assert (await _post_csv(client, who.headers, again)).status_code == 201
    alerts = await _doctor_alerts(client, doctor)
    assert len(alerts) == 2
    assert sum(a["episode_ended_at"] is None for a in alerts) == 1


async def test_an_old_irregular_strip_raises_no_live_alert(client, db_session, settings):
    who = await wearer(db_session, settings)
    old = _recent(60 * (settings.ecg_live_alert_hours + 1))
    body = apple_csv(beats_at(irregular_beats(), 30.0), old, "Atrial Fibrillation")
    assert (await _post_csv(client, who.headers, body)).json()["possible_af"] is True
    assert await _count(db_session, Alert, Alert.patient_id == who.patient.id) == 0


@pytest.mark.parametrize(
    ("seconds", "code"), [(5.0, "ecg_duration_out_of_range"), (301.0, "ecg_duration_out_of_range")]
)
async def test_strips_outside_the_length_limits_are_refused(
    client, db_session, settings, seconds, code
):
    who = await wearer(db_session, settings)
    body = apple_csv(np.zeros(round(seconds * RATE)), _recent())
    response = await client.post(
        "/api/v1/ecg-strips", content=body, headers={**who.headers, **CSV, "Accept-Language": "en"}
    )
    assert response.status_code == 422 and response.json()["code"] == code
    assert "seconds" in response.json()["detail"]


@pytest.mark.parametrize("seconds", [10.0, 300.0])
async def test_strips_at_the_length_limits_are_taken(client, db_session, settings, seconds):
    # 10 s and 300 s are the limits (settings), both kept; one sample less or more is not.
    assert (settings.ecg_min_seconds, settings.ecg_max_seconds) == (10.0, 300.0)
    who = await wearer(db_session, settings)
    samples = round(seconds * RATE)
    taken = await _post_csv(client, who.headers, apple_csv(np.zeros(samples), _recent(20)))
    assert taken.status_code == 201 and taken.json()["sample_count"] == samples
    off = samples - 1 if seconds == 10.0 else samples + 1
    refused = await _post_csv(client, who.headers, apple_csv(np.zeros(off), _recent(10)))
    assert refused.status_code == 422
    assert refused.json()["code"] == "ecg_duration_out_of_range"


async def test_the_strip_is_drawn_at_25_mm_per_second_and_10_mm_per_millivolt(
    client, db_session, settings
):
    who = await wearer(db_session, settings)
    # A 1 Hz sine of 1 mV amplitude: crests 25 mm apart, 20 mm from trough to crest.
    t = np.arange(30 * RATE) / RATE
    body = apple_csv(1000 * np.sin(2 * np.pi * t), _recent())
    strip = (await _post_csv(client, who.headers, body)).json()
    response = await client.get(f"/api/v1/ecg-strips/{strip['id']}/strip.png", headers=who.headers)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
    px_per_mm = PNG_DPI / MM_PER_INCH
    width_mm, height_mm = page_mm(30 * RATE, RATE)
    assert abs(image.shape[0] - height_mm * px_per_mm) < 1
    assert abs(image.shape[1] - width_mm * px_per_mm) < 1
    # The trace is black; the grid is pink (light in grey). The second row lies in 16 + 35 mm
    # .. 16 + 70 mm from the top; its trace runs from 10 mm + 2 s in.
    top, bottom = round(51 * px_per_mm), round(86 * px_per_mm)
    band = image[top:bottom]
    columns = range(round(60 * px_per_mm), round(250 * px_per_mm))
    crest = []
    for x in columns:
        dark = np.nonzero(band[:, x] < 60)[0]
        crest.append(dark.min() if dark.size else np.nan)
    crest = np.array(crest)
    lows = [x for x in range(1, crest.size - 1) if crest[x] <= np.nanmin(crest) + 0.5]
    groups = np.split(np.array(lows), np.nonzero(np.diff(lows) > 5)[0] + 1)
    centres = [g.mean() for g in groups]
    spacing_mm = np.diff(centres).mean() / px_per_mm
    assert spacing_mm == pytest.approx(25.0, abs=0.5)
    dark_rows = np.nonzero((band[:, list(columns)] < 60).any(axis=1))[0]
    assert (dark_rows.max() - dark_rows.min()) / px_per_mm == pytest.approx(20.0, abs=1.0)


def _grid_lines(pixels: np.ndarray, px_per_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres (mm) of the grid lines one row or column of RGB pixels crosses, and whether each
    is a major line (the darker pink)."""
    inked = np.nonzero(pixels.min(axis=1) < 250)[0]
    runs = np.split(inked, np.nonzero(np.diff(inked) > 1)[0] + 1)
    centres = np.array([run.mean() for run in runs]) / px_per_mm
    major = np.array([pixels[run, 1].min() < 170 for run in runs])
    return centres, major


async def test_the_strip_is_drawn_on_1_mm_and_5_mm_grid_paper(client, db_session, settings):
    who = await wearer(db_session, settings)
    body = apple_csv(beats_at(regular_beats(), 30.0), _recent())
    strip = (await _post_csv(client, who.headers, body)).json()
    response = await client.get(f"/api/v1/ecg-strips/{strip['id']}/strip.png", headers=who.headers)
    image = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)
    px_per_mm = PNG_DPI / MM_PER_INCH
    width_mm, height_mm = page_mm(30 * RATE, RATE)
    grid_bottom, grid_top = 5.0, height_mm - 16.0  # footer and header margins
    # Across the page 3.5 mm above the grid's lower edge (below the trace): a vertical line
    # every millimetre from the page's left edge, every fifth one major.
    y = round((height_mm - grid_bottom - 3.5) * px_per_mm)
    centres, major = _grid_lines(image[y], px_per_mm)
    # The line on the right edge (265 mm) falls just past the last pixel column.
    assert width_mm == 265.0 and image.shape[1] / px_per_mm < width_mm
    assert centres.size == math.floor(width_mm)
    assert np.allclose(centres, np.arange(centres.size), atol=0.2)
    assert list(np.flatnonzero(major)) == list(range(0, centres.size, 5))
    # Down the page 9.5 mm from the left (between the calibration pulse and the trace): a
    # horizontal line every millimetre of the grid, every fifth from its lower edge major.
    x = round(9.5 * px_per_mm)
    top = round((height_mm - grid_top) * px_per_mm) - 2
    bottom = round((height_mm - grid_bottom) * px_per_mm) + 3
    centres, major = _grid_lines(image[top:bottom, x], px_per_mm)
    mm_above_bottom = height_mm - grid_bottom - (centres + top / px_per_mm)
    assert centres.size == round(grid_top - grid_bottom) + 1
    assert np.allclose(np.sort(mm_above_bottom), np.arange(centres.size), atol=0.2)
    assert all(m == (round(h) % 5 == 0) for m, h in zip(major, mm_above_bottom, strict=True))


async def test_strip_images_carry_etags_like_the_agp(client, db_session, settings):
    who = await wearer(db_session, settings)
    body = apple_csv(beats_at(regular_beats(), 30.0), _recent())
    strip = (await _post_csv(client, who.headers, body)).json()
    url = f"/api/v1/ecg-strips/{strip['id']}/strip.svg"
    first = await client.get(url, headers=who.headers)
    assert first.status_code == 200 and first.headers["content-type"] == "image/svg+xml"
    assert first.headers["cache-control"] == "private, max-age=0, must-revalidate"
    width_mm, _ = page_mm(30 * RATE, RATE)
    width_pt = float(re.search(rb'width="([\d.]+)pt"', first.content).group(1))
    assert width_pt == pytest.approx(width_mm / MM_PER_INCH * 72, abs=0.1)
    etag = first.headers["etag"]
    cached = await client.get(url, headers={**who.headers, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.headers["etag"] == etag
    english = await client.get(url, headers={**who.headers, "Accept-Language": "en"})
    assert english.headers["etag"] != etag


async def test_the_doctor_in_care_reads_and_everyone_else_gets_404(client, db_session, settings):
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    body = apple_csv(beats_at(regular_beats(), 30.0), _recent())
    strip = (await _post_csv(client, who.headers, body)).json()
    urls = [
        f"/api/v1/ecg-strips/{strip['id']}",
        f"/api/v1/ecg-strips/{strip['id']}/fhir",
        f"/api/v1/ecg-strips/{strip['id']}/strip.svg",
        f"/api/v1/patients/{who.patient.id}/ecg-strips",
    ]
    for url in urls:
        assert (await client.get(url, headers=doctor)).status_code == 200, url
    other_patient = await wearer(db_session, settings)
    outsiders = [other_patient.headers]
    outsiders.append((await doctor_for(db_session, settings, other_patient.patient))[2])
    for role in (Role.pharmacist, Role.courier, Role.bureau, Role.admin):
        outsiders.append(
            await factories.bearer(db_session, settings, await factories.account(db_session, role))
        )
    for headers in outsiders:
        for url in urls:
            assert (await client.get(url, headers=headers)).status_code == 404, url
    listed = await client.get(urls[-1], headers=who.headers)
    assert [s["id"] for s in listed.json()["items"]] == [strip["id"]]


async def test_only_the_patient_uploads_and_only_to_an_own_ecg_device(client, db_session, settings):
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    body = apple_csv(beats_at(regular_beats(), 30.0), _recent())
    assert (await _post_csv(client, doctor, body)).status_code == 403
    other = await wearer(db_session, settings)
    fhir = fhir_strip(beats_at(regular_beats(), 30.0), _recent(), device_id=str(other.ecg.id))
    foreign = await client.post("/api/v1/ecg-strips", json=fhir, headers={**who.headers, **FHIR})
    assert foreign.status_code == 404
    fhir["device"] = {"reference": f"Device/{who.cgm.id}"}
    not_ecg = await client.post("/api/v1/ecg-strips", json=fhir, headers={**who.headers, **FHIR})
    assert not_ecg.status_code == 422 and not_ecg.json()["code"] == "ecg_device_not_ecg"
