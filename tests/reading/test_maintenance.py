"""The periodic reading upkeep (signal loss, rollups, partitions ahead), and PostgreSQL's
monthly partitions of `readings`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.alert.jobs import sweep_signal_loss
from app.analytics.jobs import refresh_stale_rollups
from app.kit.clock import shifted_by, utcnow
from app.models import Alert, CgmDaily, ReadingLatest
from app.reading.jobs import PARTITION_MONTHS_AHEAD, ensure_partitions
from tests.reading.helpers import cgm_item, upload, wearer


async def test_the_jobs_refresh_rollups_and_sweep_signal_loss(
    app, client, db_session, sessionmaker, settings
) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    items = [cgm_item(who.cgm, now - timedelta(minutes=5 * i), 6.0) for i in range(10)]
    await upload(client, who.headers, items)
    with shifted_by(timedelta(hours=2)):
        assert await sweep_signal_loss(sessionmaker, settings, app.state.hub) == 1
        assert await refresh_stale_rollups(sessionmaker, settings) >= 1
    days = list(
        await db_session.scalars(select(CgmDaily).where(CgmDaily.patient_id == who.patient.id))
    )
    assert sum(d.readings for d in days) == 10
    latest = await db_session.scalar(
        select(ReadingLatest)
        .where(ReadingLatest.patient_id == who.patient.id)
        .execution_options(populate_existing=True)
    )
    assert latest is not None and latest.stale_from is None
    alert = await db_session.scalar(select(Alert).where(Alert.patient_id == who.patient.id))
    assert alert is not None and alert.rule == "signal_loss"


@pytest.mark.postgres
async def test_new_month_partition_takes_its_rows_from_the_default(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    far = datetime(2031, 5, 17, 3, 0, tzinfo=UTC)
    await db_session.execute(
        text(
            "INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes,"
            " value, backfilled, source, received_at) VALUES (:d, 'cgm', :t, :p, 480, 100,"
            " false, 'app', now())"
        ),
        {"d": who.cgm.id, "t": far, "p": who.patient.id},
    )
    where = "SELECT tableoid::regclass::text FROM readings WHERE measured_at = :t"
    assert await db_session.scalar(text(where), {"t": far}) == "reading_partitions.readings_default"
    created = await db_session.scalar(
        text("SELECT create_reading_partitions(:m, 1)"), {"m": date(2031, 5, 1)}
    )
    assert created == 1
    assert await db_session.scalar(text(where), {"t": far}) == "reading_partitions.readings_p203105"
    again = await db_session.scalar(
        text("SELECT create_reading_partitions(:m, 1)"), {"m": date(2031, 5, 1)}
    )
    assert again == 0


async def test_partitions_are_kept_ready_ahead_on_postgresql_only(db_session, sessionmaker) -> None:
    created = await ensure_partitions(sessionmaker)
    if db_session.get_bind().dialect.name != "postgresql":
        assert created == 0
        return
    assert created >= 0
    ahead = utcnow().date().replace(day=1)
    for _ in range(PARTITION_MONTHS_AHEAD):
        ahead = (ahead + timedelta(days=32)).replace(day=1)
    name = f"reading_partitions.readings_p{ahead:%Y%m}"
    assert await db_session.scalar(text("SELECT to_regclass(:n)::text"), {"n": name}) == name
    assert await ensure_partitions(sessionmaker) == 0
