"""Batch upload: per-item verdicts, units and sentinels, time limits, idempotency."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.models import Reading, ReadingLatest
from tests.reading.helpers import bp_item, cgm_item, device, upload, wearer


async def _stored(db_session, device_id) -> list[Reading]:
    return list(
        (
            await db_session.scalars(
                select(Reading).where(Reading.device_id == device_id).order_by(Reading.measured_at)
            )
        ).all()
    )


async def test_valid_items_are_kept_and_bad_ones_reported(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=10), 6.2),
        {"kind": "cgm", "device_id": str(who.cgm.id), "measured_at": "yesterday"},
        cgm_item(who.cgm, now - timedelta(minutes=5), 80.0),  # mg/dL sent as mmol/L
        bp_item(who.bp, now - timedelta(minutes=3), 142, 91, pulse=70, posture="sitting"),
        {"kind": "weight", "device_id": str(who.cgm.id)},
    ]
    report = await upload(client, who.headers, items)
    assert (report["accepted"], report["duplicate"], report["rejected"]) == (2, 0, 3)
    statuses = [(i["index"], i["status"], i["reason"]) for i in report["items"]]
    assert statuses == [
        (0, "accepted", None),
        (1, "rejected", "malformed"),
        (2, "rejected", "wrong_unit"),
        (3, "accepted", None),
        (4, "rejected", "malformed"),
    ]
    assert report["items"][1]["field"] == "measured_at"
    assert report["items"][2]["message"] == "单位错误：应为 mg/dL"
    assert len(await _stored(db_session, who.cgm.id)) == 1
    [bp] = await _stored(db_session, who.bp.id)
    assert (bp.value, bp.value2, bp.value3, bp.label) == (142, 91, 70, "sitting")


async def test_glucose_is_stored_in_mg_dl_with_the_original_kept(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    at = utcnow() - timedelta(minutes=1)
    await upload(client, who.headers, [cgm_item(who.cgm, at, 5.5)])
    [row] = await _stored(db_session, who.cgm.id)
    assert row.value == pytest.approx(5.5 * 18.016, abs=0.005)
    assert (row.original_value, row.original_unit) == (5.5, "mmol/L")
    assert row.measured_at == at.replace(microsecond=at.microsecond)
    assert row.utc_offset_minutes == 480  # Asia/Shanghai when the phone sends none


async def test_a_glucose_unit_the_item_names_is_converted_whatever_the_device_unit(
    client, db_session, settings
) -> None:
    # A CGM bound without a unit defaults to mmol/L; its phone labels mg/dL: converted, kept.
    who = await wearer(db_session, settings)
    item = cgm_item(who.cgm, utcnow(), 110, unit="mg/dL")
    report = await upload(client, who.headers, [item])
    assert report["items"][0]["status"] == "accepted"
    [row] = await _stored(db_session, who.cgm.id)
    assert (row.value, row.original_value, row.original_unit) == (110, 110, "mg/dL")


async def test_a_value_implausible_in_its_unit_names_the_unit_expected(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    item = cgm_item(who.cgm, utcnow(), 6.1, unit="mg/dL")
    report = await upload(client, who.headers, [item], language="en")
    assert (report["items"][0]["reason"], report["items"][0]["message"]) == (
        "wrong_unit",
        "Wrong unit: expected mmol/L",
    )
    assert await _stored(db_session, who.cgm.id) == []


@pytest.mark.parametrize(("flag", "stored"), [("low", 40.0), ("high", 400.0)], ids=["LOW", "HIGH"])
async def test_low_and_high_sentinels_are_stored_at_the_sensor_range_edge(
    client, db_session, settings, flag, stored
) -> None:
    who = await wearer(db_session, settings)
    item = cgm_item(who.cgm, utcnow(), None, flag=flag)
    assert (await upload(client, who.headers, [item]))["accepted"] == 1
    [row] = await _stored(db_session, who.cgm.id)
    assert (row.value, row.flag) == (stored, flag)


async def test_values_outside_the_device_range_are_rejected(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=1), 1.0),  # 18 mg/dL: the CGM says LOW
        cgm_item(who.cgm, now - timedelta(minutes=2), 30.0),  # 540 mg/dL
        bp_item(who.bp, now, 300.5, 90),
        bp_item(who.bp, now - timedelta(minutes=1), 120, 130),  # diastolic above systolic
    ]
    report = await upload(client, who.headers, items)
    assert [i["reason"] for i in report["items"]] == ["out_of_range"] * 4


async def test_time_limits_reject_future_and_too_old_items(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    skew = timedelta(seconds=settings.reading_clock_skew_seconds)
    window = timedelta(days=settings.reading_backfill_window_days)
    items = [
        cgm_item(who.cgm, now + skew - timedelta(seconds=30), 6.0),  # within the skew
        cgm_item(who.cgm, now + skew + timedelta(seconds=30), 6.0),
        cgm_item(who.cgm, now - window + timedelta(hours=1), 6.0),
        cgm_item(who.cgm, now - window - timedelta(hours=1), 6.0),
    ]
    report = await upload(client, who.headers, items)
    assert [i["reason"] for i in report["items"]] == [None, "in_future", None, "too_old"]


async def test_old_points_are_marked_backfilled(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [
        cgm_item(who.cgm, now - timedelta(days=2), 6.0),
        cgm_item(who.cgm, now - timedelta(minutes=1), 6.1),
        # Within the live window, but the phone says it sends it after the fact (5-minute CGM:
        # readings closer than 150 s to each other would be too dense).
        cgm_item(who.cgm, now - timedelta(minutes=6), 6.1, backfill=True),
    ]
    await upload(client, who.headers, items)
    rows = await _stored(db_session, who.cgm.id)
    assert [r.backfilled for r in rows] == [True, True, False]


async def test_reupload_and_overlap_create_no_duplicates(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(hours=2)
    first = [cgm_item(who.cgm, start + timedelta(minutes=5 * i), 6.0 + i / 10) for i in range(6)]
    second = [cgm_item(who.cgm, start + timedelta(minutes=5 * i), 9.9) for i in range(3, 9)]
    assert (await upload(client, who.headers, first))["accepted"] == 6
    report = await upload(client, who.headers, second)
    assert [i["status"] for i in report["items"]] == ["duplicate"] * 3 + ["accepted"] * 3
    rows = await _stored(db_session, who.cgm.id)
    assert len(rows) == 9
    assert rows[3].original_value == pytest.approx(6.3)  # the first upload's value stays


async def test_repeated_item_within_a_batch_is_a_duplicate(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    item = cgm_item(who.cgm, utcnow(), 6.0)
    report = await upload(client, who.headers, [item, item])
    assert [i["status"] for i in report["items"]] == ["accepted", "duplicate"]


async def test_unbound_or_foreign_device_is_rejected(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    other = await wearer(db_session, settings)
    gone = await device(db_session, who.patient, "cgm", "mmol/L", unbound_at=utcnow())
    now = utcnow()
    items = [cgm_item(other.cgm, now, 6.0), cgm_item(gone, now, 6.0)]
    report = await upload(client, who.headers, items)
    assert [i["reason"] for i in report["items"]] == ["device_not_bound"] * 2
    assert await _stored(db_session, other.cgm.id) == []


async def test_reading_kind_must_come_from_that_kind_of_device(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    report = await upload(client, who.headers, [bp_item(who.cgm, utcnow(), 120, 80)])
    assert report["items"][0]["reason"] == "kind_not_from_device"


async def test_heart_rate_and_ecg_summaries_are_stored(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [
        {"kind": "hr", "device_id": str(who.ecg.id), "measured_at": now.isoformat(), "bpm": 71},
        {
            "kind": "ecg",
            "device_id": str(who.ecg.id),
            "measured_at": (now - timedelta(hours=1)).isoformat(),
            "mean_bpm": 74,
            "min_bpm": 52,
            "max_bpm": 131,
            "rhythm": "af",
        },
        {
            "kind": "ecg",
            "device_id": str(who.ecg.id),
            "measured_at": (now - timedelta(hours=2)).isoformat(),
            "mean_bpm": 40,
            "min_bpm": 52,
            "max_bpm": 131,
            "rhythm": "sinus",
        },
    ]
    report = await upload(client, who.headers, items)
    assert [i["status"] for i in report["items"]] == ["accepted", "accepted", "rejected"]
    rows = await _stored(db_session, who.ecg.id)
    assert {(r.kind, r.value, r.value2, r.value3, r.label) for r in rows} == {
        ("ecg", 74, 52, 131, "af"),
        ("hr", 71, None, None, None),
    }


async def test_oversized_batch_is_refused_whole(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(days=10)
    limit = settings.reading_batch_max_items
    items = [cgm_item(who.cgm, start + timedelta(minutes=i), 6.0) for i in range(limit + 1)]
    response = await client.post(
        "/api/v1/readings", json={"items": items}, headers={**who.headers, "Accept-Language": "en"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "reading_batch_too_large"
    assert str(limit) in response.json()["detail"]
    assert await _stored(db_session, who.cgm.id) == []


async def test_latest_values_follow_the_newest_reading(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    await upload(client, who.headers, [cgm_item(who.cgm, now - timedelta(minutes=1), 7.0)])
    await upload(client, who.headers, [cgm_item(who.cgm, now - timedelta(hours=3), 4.0)])
    latest = await db_session.scalar(
        select(ReadingLatest).where(
            ReadingLatest.patient_id == who.patient.id, ReadingLatest.kind == "cgm"
        )
    )
    assert latest is not None
    assert latest.value == pytest.approx(7.0 * 18.016, abs=0.01)
    # Rollups go stale from the day of the earliest new reading less the longest sample
    # interval (15 minutes): the reading before it, which it weighs, may be on the day before.
    stale_day = (now - timedelta(hours=3, minutes=15)).astimezone(who_tz()).date()
    assert latest.stale_from == stale_day
    assert latest.version == 1


def who_tz():
    """The demo patients' time zone."""
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


async def test_readings_list_is_scoped(client, db_session, settings) -> None:
    from tests.reading.helpers import doctor_for

    who = await wearer(db_session, settings)
    now = utcnow()
    await upload(
        client,
        who.headers,
        [cgm_item(who.cgm, now - timedelta(minutes=5 * i), 6.0) for i in range(3)],
    )
    _, _, doctor_headers = await doctor_for(db_session, settings, who.patient)
    url = f"/api/v1/patients/{who.patient.id}/readings?kind=cgm"
    mine = (await client.get(url, headers=who.headers)).json()
    theirs = (await client.get(url, headers=doctor_headers)).json()
    assert len(mine["items"]) == len(theirs["items"]) == 3
    assert mine["items"][0]["value_mmol_l"] == 6.0
    stranger = await wearer(db_session, settings)
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    count = await db_session.scalar(select(func.count()).select_from(Reading))
    assert count is not None and count >= 3


async def test_a_malformed_envelope_is_422(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    for body in (b"[]", b'{"items": 5}', b"not json"):
        response = await client.post(
            "/api/v1/readings",
            content=body,
            headers={**who.headers, "content-type": "application/json"},
        )
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed")


@pytest.mark.postgres
async def test_fresh_batch_taken_by_copy_keeps_latest_and_reports_each_item(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(hours=3)
    items = [cgm_item(who.cgm, start + timedelta(minutes=5 * i), 5.0 + i / 10) for i in range(24)]
    report = await upload(client, who.headers, items)
    assert report["accepted"] == 24 and [i["index"] for i in report["items"]] == list(range(24))
    rows = await _stored(db_session, who.cgm.id)
    assert [r.original_value for r in rows] == pytest.approx([5.0 + i / 10 for i in range(24)])
    latest = await db_session.scalar(
        select(ReadingLatest).where(
            ReadingLatest.patient_id == who.patient.id, ReadingLatest.kind == "cgm"
        )
    )
    assert latest is not None and latest.measured_at == rows[-1].measured_at


@pytest.mark.postgres
async def test_keys_stored_between_the_check_and_the_copy_refuse_the_whole_batch(
    client, db_session, settings, monkeypatch
) -> None:
    # Another request commits the same readings after this one found their span empty: the
    # COPY hits the primary key, nothing of this batch is kept, and the retry reports duplicates.
    from app.reading import repository

    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(hours=1)
    first = [cgm_item(who.cgm, start + timedelta(minutes=5 * i), 6.0) for i in range(3)]
    await upload(client, who.headers, first)
    real_facts = repository.batch_facts

    async def span_looks_new(*args, **kwargs):
        facts = await real_facts(*args, **kwargs)
        return dataclasses.replace(facts, span_is_new=True)

    monkeypatch.setattr(repository, "batch_facts", span_looks_new)
    second = [cgm_item(who.cgm, start + timedelta(minutes=5 * i), 7.0) for i in range(2, 6)]
    response = await client.post("/api/v1/readings", json={"items": second}, headers=who.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "reading_upload_concurrent"
    assert len(await _stored(db_session, who.cgm.id)) == 3
    monkeypatch.setattr(repository, "batch_facts", real_facts)
    retry = await upload(client, who.headers, second)
    assert [i["status"] for i in retry["items"]] == ["duplicate"] + ["accepted"] * 3
    assert len(await _stored(db_session, who.cgm.id)) == 6


async def test_a_time_without_its_offset_is_reported_as_such(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    naive = (utcnow() - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    item = {**cgm_item(who.cgm, utcnow(), 6.0), "measured_at": naive}
    report = await upload(client, who.headers, [item], language="en")
    [result] = report["items"]
    assert (result["reason"], result["field"]) == ("offset_missing", "measured_at")
    assert "no UTC offset" in result["message"]


@pytest.mark.postgres
async def test_the_batch_facts_query_brings_the_stored_neighbours_on_postgresql(
    client, db_session, settings
) -> None:
    # The density check of a batch whose span has stored readings takes them from the
    # batch-facts query (no second round trip): the same times, per device and kind, as the
    # separate query gives, from every device the batch names and no other.
    from app.reading import repository

    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(hours=2)
    await upload(
        client,
        who.headers,
        [cgm_item(who.cgm, start + timedelta(minutes=m), 6.0) for m in (0, 10, 20)],
    )
    await upload(
        client,
        who.headers,
        [bp_item(who.bp, start + timedelta(minutes=m), 130, 85) for m in (5, 15)],
    )
    await upload(
        client, who.headers, [cgm_item(who.meter, start + timedelta(minutes=12), 6.5, kind="bg")]
    )
    span = (start + timedelta(minutes=9), start + timedelta(minutes=11))
    facts = await repository.batch_facts(
        db_session, who.patient.id, {who.cgm.id, who.bp.id}, span, widen_seconds=600
    )
    assert facts is not None and not facts.span_is_new
    rows = [{"device_id": d, "measured_at": at} for d in (who.cgm.id, who.bp.id) for at in span]
    expected = await repository.stored_times(db_session, rows, 600)
    assert facts.stored == expected
    assert set(expected) == {(who.cgm.id, "cgm"), (who.bp.id, "bp")}
    assert [len(times) for times in expected.values()] == [3, 2]
