"""Wearable exports, as the vendors write them (tests/reading/fixtures), go through the upload
path as history and report by file line."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.models import Alert, Device, Reading
from tests.fixtures.wx import wx_upload_file
from tests.reading.helpers import doctor_for, wearer

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


async def _import(client, headers, patient_id, body: bytes, content_type: str = "text/csv"):
    return await client.post(
        f"/api/v1/patients/{patient_id}/readings/import",
        content=body,
        headers={**headers, "content-type": content_type},
    )


async def _readings(db_session, patient_id) -> list[Reading]:
    return list(
        await db_session.scalars(
            select(Reading)
            .where(Reading.patient_id == patient_id)
            .order_by(Reading.kind, Reading.measured_at)
        )
    )


async def _device(db_session, patient_id) -> Device:
    return await db_session.scalar(
        select(Device).where(Device.patient_id == patient_id, Device.source == "import")
    )


def _local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=SHANGHAI)


async def test_a_us_libreview_file_with_its_ketone_column_is_read_in_mg_dl(
    client, db_session, settings
) -> None:
    # The US header has `Ketone mmol/L` like every LibreView file: the glucose columns say
    # mg/dL. The file is months old: history, kept.
    who = await wearer(db_session, settings)
    response = await _import(
        client, who.headers, who.patient.id, fixture("libreview_us_libre_app_mgdl.csv")
    )
    report = response.json()
    assert response.status_code == 200, report
    assert (report["accepted"], report["rejected"]) == (13, 1)
    assert [i["reason"] for i in report["items"] if i["status"] == "rejected"] == ["not_a_reading"]
    rows = await _readings(db_session, who.patient.id)
    cgm = [r for r in rows if r.kind == "cgm"]
    assert [r.value for r in cgm][:3] == [91, 90, 89]
    assert {r.original_unit for r in rows} == {"mg/dL"}
    # 11:40 PM on 2 January 2026, local time.
    assert cgm[0].measured_at == _local(2026, 1, 2, 23, 40)
    assert all(r.backfilled for r in rows)
    # The Libre app does not name the sensor: its history every ~5 minutes says Libre 3.
    device = await _device(db_session, who.patient.id)
    assert (device.sample_interval_seconds, device.serial) == (
        300,
        "0d6a4f2e-93b1-4c55-8e2a-6f1c2b7d9a40",
    )
    assert cgm[0].sample_interval_seconds == 300


@pytest.mark.parametrize(
    ("name", "model", "interval", "first"),
    [
        ("libreview_eu_librelink_mmol.csv", "FreeStyle LibreLink", 900, (2026, 3, 16, 13, 42)),
        ("libreview_libre3_mmol.csv", "FreeStyle Libre 3", 300, (2025, 6, 18, 16, 32)),
        ("libreview_libre2_reader_mmol.csv", "FreeStyle Libre 2", 900, (2026, 6, 2, 9, 35)),
    ],
    ids=["LibreLink-Libre2", "Libre3", "Libre2-reader"],
)
async def test_libreview_mmol_files_take_the_interval_of_their_sensor(
    client, db_session, settings, name, model, interval, first
) -> None:
    who = await wearer(db_session, settings)
    _, _, doctor_headers = await doctor_for(db_session, settings, who.patient)
    report = (await _import(client, doctor_headers, who.patient.id, fixture(name))).json()
    assert report["accepted"] > 0 and report["rejected"] >= 1, report
    rows = await _readings(db_session, who.patient.id)
    cgm = [r for r in rows if r.kind == "cgm"]
    assert cgm[0].measured_at == _local(*first)
    assert cgm[0].original_unit == "mmol/L"
    assert cgm[0].value == pytest.approx(cgm[0].original_value * 18.016, abs=0.01)
    device = await _device(db_session, who.patient.id)
    assert device.model == f"{model} (LibreView)"
    assert {r.sample_interval_seconds for r in cgm} == {interval}


@pytest.mark.parametrize(
    ("reader", "interval"),
    [("FreeStyle Libre", 900), ("FreeStyle Libre 14 day", 900), ("FreeStyle Libre 3 Plus", 300)],
    ids=["Libre1-reader", "Libre14day-reader", "Libre3Plus"],
)
async def test_the_readers_name_sets_the_interval_whatever_the_gaps(
    client, db_session, settings, reader, interval
) -> None:
    # LibreView writes every reader's rows in one layout: the Libre 2 reader's file as a Libre 1
    # (or US 14-day, or 3 Plus) reader's. Its 15-minute history then says nothing: the name does.
    who = await wearer(db_session, settings)
    body = fixture("libreview_libre2_reader_mmol.csv").replace(
        b"FreeStyle Libre 2,", reader.encode() + b","
    )
    report = (await _import(client, who.headers, who.patient.id, body)).json()
    assert report["accepted"] == 5, report
    device = await _device(db_session, who.patient.id)
    assert device.model == f"{reader} (LibreView)"
    cgm = [r for r in await _readings(db_session, who.patient.id) if r.kind == "cgm"]
    assert {r.sample_interval_seconds for r in cgm} == {interval}


async def test_a_mmol_clarity_file_is_read_with_its_low_and_high_markers(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    report = (
        await _import(client, who.headers, who.patient.id, fixture("clarity_mmol.csv"))
    ).json()
    # Preamble lines 2-7 are not readings; EGVs on lines 8-13.
    assert [(i["index"], i["status"]) for i in report["items"]] == [
        (n, "accepted") for n in range(8, 14)
    ]
    rows = await _readings(db_session, who.patient.id)
    assert [(round(r.value, 2), r.flag) for r in rows] == [
        (127.91, None),
        (126.11, None),
        (40.0, "low"),
        (64.86, None),
        (400.0, "high"),
        (250.42, None),
    ]
    assert rows[0].measured_at == _local(2026, 6, 6, 0, 0, 41)
    # A new G7 transmitter mid-file is the same display device: one imported device.
    device = await _device(db_session, who.patient.id)
    assert (device.model, device.serial, device.unit) == (
        "Dexcom G7 Mobile App (Clarity)",
        "iOS G7",
        "mmol/L",
    )
    again = (await _import(client, who.headers, who.patient.id, fixture("clarity_mmol.csv"))).json()
    assert (again["accepted"], again["duplicate"]) == (0, 6)


async def test_a_mg_dl_clarity_file(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    report = (
        await _import(client, who.headers, who.patient.id, fixture("clarity_mgdl.csv"))
    ).json()
    assert report["accepted"] == 6
    rows = await _readings(db_session, who.patient.id)
    assert [(r.value, r.flag) for r in rows] == [
        (128, None),
        (127, None),
        (40, "low"),
        (65, None),
        (400, "high"),
        (250, None),
    ]


async def test_a_sibionics_app_workbook_keeps_its_own_offset(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    response = await _import(
        client,
        who.headers,
        who.patient.id,
        fixture("SiSensingCGM-01.20.00.00.xls"),
        "application/vnd.ms-excel",
    )
    report = response.json()
    assert (response.status_code, report["accepted"], report["rejected"]) == (200, 8, 0)
    assert [i["index"] for i in report["items"]] == list(range(2, 10))
    rows = await _readings(db_session, who.patient.id)
    first = rows[0]
    assert first.measured_at == datetime(2026, 2, 13, 15, 46, tzinfo=timezone(timedelta(hours=8)))
    assert (first.value, first.utc_offset_minutes, first.sample_interval_seconds) == (95, 480, 300)
    device = await _device(db_session, who.patient.id)
    assert device.model == "Sibionics GS1 (SiSensing app)"


async def test_the_mini_program_imports_a_file_with_wx_upload_file(
    client, db_session, settings
) -> None:
    # A file chosen with wx.chooseMessageFile goes up through wx.uploadFile: a multipart part
    # typed by its extension, here one WeChat does not know.
    who = await wearer(db_session, settings)
    response = await wx_upload_file(
        client,
        f"/api/v1/patients/{who.patient.id}/readings/import",
        who.headers,
        fixture("SiSensingCGM-01.20.00.00.xls"),
        "wxfile://tmp_2b7e1c0d.xls",
    )
    assert (response.status_code, response.json()["accepted"]) == (200, 8), response.text
    assert len(await _readings(db_session, who.patient.id)) == 8


async def test_a_multipart_upload_without_its_file_part_is_refused(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    response = await wx_upload_file(
        client,
        f"/api/v1/patients/{who.patient.id}/readings/import",
        {**who.headers, "Accept-Language": "en"},
        fixture("clarity_mgdl.csv"),
        "http://tmp/clarity.csv",
        name="upload",
    )
    assert (response.status_code, response.json()["code"]) == (422, "upload_file_missing")
    assert response.json()["detail"] == "The upload has no file (form field `file`)"
    assert await _readings(db_session, who.patient.id) == []


async def test_history_raises_no_live_alert(client, db_session, settings) -> None:
    # Lows in an imported file are history: stored, backfilled, no alert to the doctor.
    who = await wearer(db_session, settings)
    await _import(client, who.headers, who.patient.id, fixture("clarity_mgdl.csv"))
    alerts = await db_session.scalar(
        select(func.count()).select_from(Alert).where(Alert.patient_id == who.patient.id)
    )
    assert alerts == 0


async def test_too_old_for_history_is_reported_per_row(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    old = settings.model_copy(update={"reading_import_history_days": 200})
    client_app = client._transport.app  # type: ignore[attr-defined]
    client_app.state.settings = old
    try:
        report = (
            await _import(client, who.headers, who.patient.id, fixture("libreview_libre3_mmol.csv"))
        ).json()
    finally:
        client_app.state.settings = settings
    # June 2025 is more than 200 days back: every reading row says so, nothing is bound.
    reasons = {i["reason"] for i in report["items"]}
    assert reasons == {"too_old", "not_a_reading"}
    assert await _device(db_session, who.patient.id) is None


async def test_a_failed_import_binds_nothing_and_another_patient_can_import_the_file(
    client, db_session, settings
) -> None:
    first = await wearer(db_session, settings)
    bad = fixture("clarity_mgdl.csv").replace(b'"EGV"', b'"Calibration"')
    report = (await _import(client, first.headers, first.patient.id, bad)).json()
    assert report["accepted"] == 0
    assert await _device(db_session, first.patient.id) is None
    second = await wearer(db_session, settings)
    for who in (first, second):
        response = await _import(client, who.headers, who.patient.id, fixture("clarity_mgdl.csv"))
        assert (response.status_code, response.json()["accepted"]) == (200, 6)


async def test_imports_are_capped_in_rows_and_devices(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    app = client._transport.app  # type: ignore[attr-defined]
    body = fixture("libreview_eu_librelink_mmol.csv")
    try:
        app.state.settings = settings.model_copy(update={"reading_import_max_rows": 5})
        rows = await _import(client, who.headers, who.patient.id, body)
        app.state.settings = settings.model_copy(update={"reading_import_max_devices": 0})
        devices = await _import(client, who.headers, who.patient.id, body)
    finally:
        app.state.settings = settings
    assert (rows.status_code, rows.json()["code"]) == (413, "reading_import_too_many_rows")
    assert (devices.status_code, devices.json()["code"]) == (
        413,
        "reading_import_too_many_devices",
    )
    assert await _readings(db_session, who.patient.id) == []


async def test_unknown_files_and_strangers_are_refused(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    response = await _import(client, who.headers, who.patient.id, b"a,b,c\n1,2,3\n")
    assert (response.status_code, response.json()["code"]) == (
        422,
        "reading_import_unrecognised",
    )
    stranger = await wearer(db_session, settings)
    response = await _import(client, stranger.headers, who.patient.id, fixture("clarity_mgdl.csv"))
    assert response.status_code == 404
