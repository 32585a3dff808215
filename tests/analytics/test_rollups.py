"""CGM day rollups: which days an upload makes stale, the set-based refresh against the
per-reading definition, the background refresh, and the panel with rollups stale and fresh."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from app import worker
from app.analytics import jobs
from app.analytics import repository as analytics_repository
from app.analytics.series import MAX_INTERVAL_SECONDS, glucose_series, local_period
from app.analytics.service import refresh_rollups
from app.kit.clock import frozen_at, utcnow
from app.models import CgmDaily, Patient, Reading, ReadingLatest
from tests.reading.helpers import Wearer, cgm_item, device, doctor_for, upload, wearer

SHANGHAI = ZoneInfo("Asia/Shanghai")
METRICS = ("readings", "days_with_data", "mean_mg_dl", "sd_mg_dl", "cv_percent", "gmi_percent")


def _local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


async def _stale_from(db_session, who: Wearer) -> date | None:
    latest = await db_session.scalar(
        select(ReadingLatest)
        .where(ReadingLatest.patient_id == who.patient.id, ReadingLatest.kind == "cgm")
        .execution_options(populate_existing=True)
    )
    assert latest is not None
    return latest.stale_from


@pytest.mark.parametrize(
    ("hour", "minute", "days_back"),
    [(0, 20, 0), (9, 0, 0), (0, 10, 1), (0, 0, 1)],
    ids=["20-min-after-midnight", "morning", "10-min-after-midnight", "midnight"],
)
@pytest.mark.parametrize("overlapping", [False, True], ids=["new-span", "overlapping"])
async def test_an_upload_makes_its_day_stale_and_the_day_before_only_near_midnight(
    client, db_session, settings, hour, minute, days_back, overlapping
) -> None:
    # The day before changes only if the new reading weighs that day's last reading, which is
    # at most the longest sample interval (15 min) before it. An upload overlapping stored
    # readings takes the other path on PostgreSQL (INSERT from arrays instead of COPY).
    with frozen_at(_local(_today(), 12)):
        who = await wearer(db_session, settings, cgm_unit="mg/dL")
        today = _today()
        items = [cgm_item(who.cgm, _local(today, hour, minute), 120)]
        if overlapping:
            stored = cgm_item(who.cgm, _local(today, 11), 110)
            await upload(client, who.headers, [stored])
            await refresh_rollups(db_session, settings, [who.patient.id])
            assert await _stale_from(db_session, who) is None
            items.append(stored)
        await upload(client, who.headers, items)
    assert await _stale_from(db_session, who) == today - timedelta(days=days_back)


def _readings(
    patient: Patient, device_id, interval: int, start: datetime, end: datetime, seed: int
) -> list[Reading]:
    """Readings about every `interval` s (jittered, with gaps), values over every band and
    its edges."""
    rng = random.Random(seed)
    edges = [53, 54, 69, 70, 180, 181, 250, 251]
    rows, at = [], start.replace(microsecond=0)
    while at < end:
        if rng.random() < 0.03:
            at += timedelta(seconds=interval * rng.randint(2, 12))  # a gap in the data
        value = rng.choice(edges) if rng.random() < 0.2 else rng.uniform(40, 400)
        rows.append(
            Reading(
                device_id=device_id,
                kind="cgm",
                measured_at=at,
                patient_id=patient.id,
                utc_offset_minutes=480,
                value=round(value, 1),
                sample_interval_seconds=interval,
                backfilled=True,
                source="app",
                received_at=at,
            )
        )
        at += timedelta(seconds=interval + rng.randint(-20, 20))  # devices send whole seconds
    return rows


@pytest.mark.parametrize(
    ("zone", "now"),
    [
        ("Asia/Shanghai", None),
        # The day Europe/Berlin leaves summer time has 25 hours.
        ("Europe/Berlin", datetime(2026, 10, 26, 15, 0, tzinfo=UTC)),
    ],
)
@pytest.mark.parametrize("interval", [60, 300])
async def test_the_set_based_refresh_matches_the_per_reading_definition(
    db_session, settings, zone, now, interval
) -> None:
    with frozen_at(now or utcnow()):
        who = await wearer(db_session, settings)
        who.patient.timezone = zone
        sensor = await device(db_session, who.patient, "cgm", "mg/dL")
        timezone = ZoneInfo(zone)
        moment = utcnow()
        period = local_period(timezone, None, 3, moment)
        db_session.add_all(
            _readings(
                who.patient, sensor.id, interval, period.start - timedelta(hours=2), moment, 7
            )
        )
        db_session.add(
            ReadingLatest(
                patient_id=who.patient.id,
                kind="cgm",
                measured_at=moment,
                utc_offset_minutes=0,
                value=100,
                stale_from=period.start_date,
                version=1,
            )
        )
        await db_session.flush()
        assert await refresh_rollups(db_session, settings, [who.patient.id]) == 1
        columns = await analytics_repository.columns(
            db_session,
            who.patient.id,
            "cgm",
            period.start,
            moment + timedelta(seconds=MAX_INTERVAL_SECONDS),
            settings.cgm_default_interval_seconds,
        )
    expected = glucose_series(columns, period).by_day()
    rows = {
        row.local_date: row
        for row in await db_session.scalars(
            select(CgmDaily).where(CgmDaily.patient_id == who.patient.id)
        )
    }
    assert sorted(rows) == sorted(expected) and len(rows) == 3
    for day, sums in expected.items():
        row = rows[day]
        assert row.readings == sums.readings
        assert row.value_sum == pytest.approx(sums.value_sum)
        assert row.squared_deviations == pytest.approx(sums.squared_deviations, rel=1e-9)
        assert row.covered_seconds == pytest.approx(sums.covered_seconds, abs=0.01)
        bands = [
            row.very_low_seconds,
            row.low_seconds,
            row.in_range_seconds,
            row.high_seconds,
            row.very_high_seconds,
        ]
        assert bands == pytest.approx(sums.band_seconds, abs=0.01)


async def _panel_entry(client, headers: dict[str, str], who: Wearer) -> dict:
    panel = (await client.get("/api/v1/panel", headers=headers)).json()
    [entry] = [e for e in panel["items"] if e["patient_id"] == str(who.patient.id)]
    return entry["cgm"]


async def _summary(client, headers: dict[str, str], who: Wearer) -> dict:
    url = f"/api/v1/patients/{who.patient.id}/cgm-summary"
    return (await client.get(url, headers=headers)).json()["metrics"]


def _assert_same(panel: dict, summary: dict) -> None:
    for name in METRICS:
        assert panel[name] == pytest.approx(summary[name]), name
    assert panel["time_in_ranges"] == pytest.approx(summary["time_in_ranges"])
    assert panel["active_percent"] == pytest.approx(summary["active_percent"], abs=0.05)


async def test_the_panel_is_right_with_rollups_stale_fresh_and_outdated(
    client, db_session, sessionmaker, settings
) -> None:
    with frozen_at(_local(_today(), 12)):
        who = await wearer(db_session, settings, cgm_unit="mg/dL")
        _, _, doctor = await doctor_for(db_session, settings, who.patient)
        today = _today()
        start = _local(today - timedelta(days=2), 0)
        # The sensor lost signal at yesterday 23:55 and today 00:00: the late readings below fill
        # that gap (readings closer than half the 5-minute interval would be too dense).
        series = [
            cgm_item(who.cgm, start + timedelta(minutes=5 * i), 60 + (i * 37) % 240)
            for i in range(12 * 24 * 2 + 12 * 11)
            if i not in (12 * 24 * 2 - 1, 12 * 24 * 2)
        ]
        await upload(client, who.headers, series)
        assert await _stale_from(db_session, who) is not None
        expected = await _summary(client, doctor, who)
        # Stale: the panel computes the days itself.
        _assert_same(await _panel_entry(client, doctor, who), expected)
        # Fresh: the background refresh has run, the panel only adds rollups up.
        await jobs.refresh_stale_rollups(sessionmaker, settings)
        assert await _stale_from(db_session, who) is None
        _assert_same(await _panel_entry(client, doctor, who), expected)
        # Outdated: late readings of yesterday (and one just after midnight) replace its rows.
        late = [
            cgm_item(who.cgm, _local(today - timedelta(days=1), 23, 57), 45),
            cgm_item(who.cgm, _local(today, 0, 1), 300),
        ]
        await upload(client, who.headers, late)
        assert await _stale_from(db_session, who) == today - timedelta(days=1)
        changed = await _summary(client, doctor, who)
        assert changed["readings"] == expected["readings"] + 2
        _assert_same(await _panel_entry(client, doctor, who), changed)


async def test_the_background_refresh_takes_every_stale_patient_batch_by_batch(
    client, db_session, sessionmaker, settings, monkeypatch
) -> None:
    monkeypatch.setattr(jobs, "ROLLUP_BATCH", 2)
    now = utcnow()
    wearers = [await wearer(db_session, settings) for _ in range(5)]
    for who in wearers:
        await upload(client, who.headers, [cgm_item(who.cgm, now - timedelta(minutes=1), 6.0)])
    assert await jobs.refresh_stale_rollups(sessionmaker, settings) == 5
    assert [await _stale_from(db_session, who) for who in wearers] == [None] * 5
    assert await jobs.refresh_stale_rollups(sessionmaker, settings) == 0


@pytest.mark.postgres
async def test_only_one_process_refreshes_at_a_time(
    client, db_session, engine, sessionmaker, settings
) -> None:
    who = await wearer(db_session, settings)
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 6.0)])
    job = next(job for job in worker.SCHEDULE if job.name == "cgm-rollups")
    ctx = worker.JobContext(engine, sessionmaker, settings, None, None, None)  # type: ignore[arg-type]
    async with engine.connect() as other_process:
        await other_process.execute(text("SELECT pg_advisory_lock(:key)"), {"key": job.lock_key})
        assert await worker.run_job(job, ctx) is False
        assert await _stale_from(db_session, who) is not None
        await other_process.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": job.lock_key})
    assert await worker.run_job(job, ctx) is True
    assert await _stale_from(db_session, who) is None


def test_rollups_are_refreshed_more_often_than_the_other_reading_upkeep(settings) -> None:
    period = {job.name: job.every(settings) for job in worker.SCHEDULE}
    assert period["cgm-rollups"] == settings.cgm_rollup_interval_seconds
    assert period["cgm-rollups"] < period["signal-loss"] < period["reading-partitions"]
