"""The FHIR export against the HL7 CGM implementation guide (STU 1) and the vital-signs profiles.

The required elements below are transcribed from the guide's profiles (input/fsh/profiles.fsh
of HL7/cgm and the published examples at http://hl7.org/fhir/uv/cgm/), independently of the
exporter: each profile's canonical URL, its fixed LOINC code, the fixed Quantity of its value,
the reporting period as dates, and the summary's `hasMember` slices with their cardinalities.
Every bundle is parsed with fhir.resources' R4B models before any of that is checked.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from app.kit.clock import SHANGHAI, city_date, shifted_by, utcnow
from tests.reading.helpers import bp_item, cgm_item, upload, wearer

CGM = "http://hl7.org/fhir/uv/cgm/StructureDefinition/"
VITALS = "http://hl7.org/fhir/StructureDefinition/"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Profile -> (fixed LOINC code, fixed valueQuantity (UCUM code, unit text) or None).
SUMMARY_PROFILES: dict[str, tuple[str, tuple[str, str] | None]] = {
    "cgm-summary": ("107931-8", None),
    "cgm-summary-mean-glucose-mass-per-volume": ("97507-8", ("mg/dL", "mg/dl")),
    "cgm-summary-mean-glucose-moles-per-volume": ("105273-7", ("mmol/L", "mmol/l")),
    "cgm-summary-times-in-ranges": ("106793-3", None),
    "cgm-summary-gmi": ("97506-0", ("%", "%")),
    "cgm-summary-coefficient-of-variation": ("104638-2", ("%", "%")),
    "cgm-summary-days-of-wear": ("104636-6", ("d", "days")),
    "cgm-summary-sensor-active-percentage": ("104637-4", ("%", "%")),
}
# The summary's hasMember slices: profile -> (min, max).
SUMMARY_SLICES = {
    "cgm-summary-mean-glucose-mass-per-volume": (0, 1),
    "cgm-summary-mean-glucose-moles-per-volume": (0, 1),
    "cgm-summary-times-in-ranges": (1, 1),
    "cgm-summary-gmi": (1, 1),
    "cgm-summary-coefficient-of-variation": (1, 1),
    "cgm-summary-days-of-wear": (1, 1),
    "cgm-summary-sensor-active-percentage": (1, 1),
}
# Times in ranges: the five component slices (1..1 each), LOINC-coded, in %.
BANDS = {
    "very_low": "104642-4",
    "low": "104641-6",
    "in_range": "97510-2",
    "high": "104640-8",
    "very_high": "104639-0",
}
SUMMARY_CODES = {code for code, _ in SUMMARY_PROFILES.values()} | set(BANDS.values())


def _profile(resource: dict[str, Any], base: str) -> str | None:
    """The resource's profile under `base` (None when it claims none)."""
    profiles = [p for p in resource.get("meta", {}).get("profile", []) if p.startswith(base)]
    assert len(profiles) <= 1
    return profiles[0].removeprefix(base) if profiles else None


def _code(resource: dict[str, Any]) -> str:
    codings = [c for c in resource["code"]["coding"] if c["system"] == LOINC]
    assert codings, resource["code"]
    return codings[0]["code"]


def _assert_quantity(value: dict[str, Any], fixed: tuple[str, str]) -> None:
    assert value["system"] == UCUM
    assert (value["code"], value["unit"]) == fixed
    assert isinstance(value["value"], int | float)


def _export(body: bytes) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The observations of a validated export, and every resource by its fullUrl."""
    Bundle.model_validate_json(body)  # R4B structure, every resource in it
    entries = json.loads(body)["entry"]
    by_url = {e["fullUrl"]: e["resource"] for e in entries}
    observations = [r for r in by_url.values() if r["resourceType"] == "Observation"]
    return observations, by_url


async def _cgm_patient(client, db_session, settings, count: int = 40):
    who = await wearer(db_session, settings, cgm_unit="mg/dL")
    now = utcnow()
    values = [45, 60, 120, 150, 200, 300]
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=5 * i), values[i % len(values)])
        for i in range(count)
    ]
    assert (await upload(client, who.headers, items))["accepted"] == count
    return who


async def test_the_cgm_summary_groups_the_guides_members(client, db_session, settings) -> None:
    who = await _cgm_patient(client, db_session, settings)
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    observations, by_url = _export(response.content)
    [summary] = [o for o in observations if _profile(o, CGM) == "cgm-summary"]
    members = [by_url[m["reference"]] for m in summary["hasMember"]]
    assert len(members) >= 6
    for profile, (low, high) in SUMMARY_SLICES.items():
        assert low <= [_profile(m, CGM) for m in members].count(profile) <= high, profile
    # Every summary observation in the export is reachable from the grouping one.
    grouped = {m["id"] for m in members} | {summary["id"]}
    assert {o["id"] for o in observations if _code(o) in SUMMARY_CODES} == grouped


async def test_summary_observations_carry_each_profiles_required_elements(
    client, db_session, settings
) -> None:
    who = await _cgm_patient(client, db_session, settings)
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    observations, _ = _export(response.content)
    summaries = [o for o in observations if _profile(o, CGM) in SUMMARY_PROFILES]
    assert {_profile(o, CGM) for o in summaries} == set(SUMMARY_PROFILES)
    for o in summaries:
        code, fixed = SUMMARY_PROFILES[_profile(o, CGM) or ""]
        assert _code(o) == code
        assert o["status"] == "final"
        assert o["subject"] == {"reference": f"urn:uuid:{who.patient.id}"}
        period = o["effectivePeriod"]
        assert DATE.match(period["start"]) and DATE.match(period["end"]), period
        if fixed is not None:
            _assert_quantity(o["valueQuantity"], fixed)


async def test_time_in_ranges_uses_the_guides_loinc_components(
    client, db_session, settings
) -> None:
    who = await _cgm_patient(client, db_session, settings)
    url = f"/api/v1/patients/{who.patient.id}"
    observations, _ = _export((await client.get(f"{url}/fhir", headers=who.headers)).content)
    metrics = (await client.get(f"{url}/cgm-summary", headers=who.headers)).json()["metrics"]
    [ranges] = [o for o in observations if _code(o) == "106793-3"]
    assert _profile(ranges, CGM) == "cgm-summary-times-in-ranges"
    by_code: dict[str, float] = {}
    for component in ranges["component"]:
        # LOINC only: no private code system for the bands.
        assert [c["system"] for c in component["code"]["coding"]] == [LOINC]
        _assert_quantity(component["valueQuantity"], ("%", "%"))
        by_code[component["code"]["coding"][0]["code"]] = component["valueQuantity"]["value"]
    assert by_code == pytest.approx(
        {code: metrics["time_in_ranges"][band] for band, code in BANDS.items()}, abs=0.01
    )


@pytest.mark.parametrize(("city_time", "days"), [(time(12), 1), (time(0, 30), 2)])
async def test_days_of_wear_and_sensor_active_percentage_match_the_summary(
    client, db_session, settings, city_time, days
) -> None:
    """Days of wear are city (Asia/Shanghai) days: 40 readings every five minutes up to 12:00
    fall on one, up to 00:30 on two."""
    now = utcnow()
    at = datetime.combine(city_date(now), city_time, SHANGHAI)
    at -= timedelta(days=1) if at > now else timedelta()
    with shifted_by(at - now):
        who = await _cgm_patient(client, db_session, settings)
        url = f"/api/v1/patients/{who.patient.id}"
        observations, _ = _export((await client.get(f"{url}/fhir", headers=who.headers)).content)
        metrics = (await client.get(f"{url}/cgm-summary", headers=who.headers)).json()["metrics"]
    value = {_code(o): o.get("valueQuantity", {}).get("value") for o in observations}
    assert value["104636-6"] == metrics["days_with_data"] == days
    assert value["104637-4"] == pytest.approx(metrics["active_percent"], abs=0.01)
    assert value["104637-4"] > 0


async def test_cgm_readings_are_guide_sensor_readings(client, db_session, settings) -> None:
    who = await _cgm_patient(client, db_session, settings, count=5)
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    observations, _ = _export(response.content)
    readings = [o for o in observations if _code(o) == "99504-3"]
    assert len(readings) == 5
    for o in readings:
        assert _profile(o, CGM) == "cgm-sensor-reading-mass-per-volume"
        assert o["effectiveDateTime"] and o["subject"]["reference"]
        _assert_quantity(o["valueQuantity"], ("mg/dL", "mg/dl"))


async def test_the_pulse_recorded_with_bp_is_exported(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    at = utcnow() - timedelta(minutes=3)
    await upload(client, who.headers, [bp_item(who.bp, at, 132, 84, pulse=71)])
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    observations, _ = _export(response.content)
    [panel] = [o for o in observations if _code(o) == "85354-9"]
    [pulse] = [o for o in observations if _code(o) == "8867-4"]
    assert _profile(panel, VITALS) == "bp" and _profile(pulse, VITALS) == "heartrate"
    assert pulse["effectiveDateTime"] == panel["effectiveDateTime"]
    assert pulse["valueQuantity"]["value"] == 71
    assert (pulse["valueQuantity"]["system"], pulse["valueQuantity"]["code"]) == (UCUM, "/min")
    for o in (panel, pulse):
        assert [c["code"] for c in o["category"][0]["coding"]] == ["vital-signs"]
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in panel["component"]}
    assert {k: (v["value"], v["code"]) for k, v in components.items()} == {
        "8480-6": (132, "mm[Hg]"),
        "8462-4": (84, "mm[Hg]"),
    }


async def test_bp_without_a_pulse_exports_no_heart_rate(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    await upload(client, who.headers, [bp_item(who.bp, utcnow(), 120, 80)])
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    observations, _ = _export(response.content)
    assert [_code(o) for o in observations] == ["85354-9"]


@pytest.mark.parametrize("data", ["none", "bp only", "one cgm reading"])
async def test_no_cgm_data_exports_no_summary(client, db_session, settings, data) -> None:
    who = await wearer(db_session, settings)
    if data == "bp only":
        await upload(client, who.headers, [bp_item(who.bp, utcnow(), 120, 80)])
    if data == "one cgm reading":
        # One reading has no CV, a member the guide requires: no summary rather than a partial one.
        await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 6.1)])
    response = await client.get(f"/api/v1/patients/{who.patient.id}/fhir", headers=who.headers)
    assert response.status_code == 200
    observations, by_url = _export(response.content)
    # Not "0 % in every band": nothing claims to summarise data that does not exist.
    assert not [o for o in observations if _code(o) in SUMMARY_CODES]
    assert [r["resourceType"] for r in by_url.values()].count("Patient") == 1
