"""Partitions of `readings` created and archived while patients keep uploading (PostgreSQL, a
real uvicorn process, several concurrent clients).

Two recent months start without partitions, so their uploads land in the default partition;
mid-load `create_reading_partitions` creates them (moving those rows out of the default), and
later the retention path detaches an old month (and every older one) into `reading_archive`.
Afterwards every reading an upload answered 2xx is stored exactly once: in `readings`, or in
the archived partition, which is then dropped and its readings counted separately.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db import unit_of_work
from app.kit.clock import utcnow
from app.reading import jobs as reading_jobs
from app.reading import repository
from tests.faults.conftest import CarePatient, FaultDb, practice, service_env
from tests.fixtures.servers import start_uvicorn

pytestmark = pytest.mark.postgres

CLIENTS = 4
BEFORE = 6  # uploads per client before the partitions are created
AFTER = 4  # uploads per client after the old month is archived
MOST = 150  # uploads per client at most (an hour apart: they stay within their month)
BATCH = 12  # CGM points per upload, 5 minutes apart


def _month(day: datetime) -> str:
    return f"{day:%Y%m}"


async def _upload(http: httpx.AsyncClient, who: CarePatient, body: dict[str, Any]) -> Any:
    """One upload, resent as the app does while the answer is 409 `concurrent_update` (the
    transaction was rolled back: retrying is safe); the 2xx answer's report."""
    for _ in range(20):
        response = await http.post("/api/v1/readings", json=body, headers=who.headers)
        if response.status_code != 409:
            break
        assert response.json()["code"] == "concurrent_update", response.text
    assert response.status_code == 200, response.text
    return response.json()


async def test_partitions_come_and_go_under_upload_load_and_no_reading_is_lost(
    fault_db: FaultDb,
) -> None:
    people = await practice(fault_db, CLIENTS)
    today = utcnow().date()
    this_month = today.replace(day=1)
    last_month = reading_jobs.months_before(today, 1)
    old_month = reading_jobs.months_before(today, 2)
    # Within the 90-day upload window whatever today's day of the month.
    old_start = datetime(old_month.year, old_month.month, 15, tzinfo=UTC)
    recent_start = datetime(last_month.year, last_month.month, 5, tzinfo=UTC)
    async with fault_db.sessionmaker() as session:
        for month in (last_month, this_month):
            await session.execute(text(f"DROP TABLE reading_partitions.readings_p{month:%Y%m}"))
        await session.commit()

    done = 0
    progress = asyncio.Condition()
    archived_at: int | None = None  # `done` when the archive finished
    # An old-month batch resent across the archive would be a new reading for the default
    # partition (the retention setting keeps that from happening in production): the archive
    # waits for the old-month pairs in flight, and none start once it is under way.
    archiving = False
    pairs = 0
    stored: dict[str, set[tuple[str, str]]] = {}  # client -> (device, measured_at) answered 2xx

    async def client(http: httpx.AsyncClient, who: CarePatient) -> None:
        # Alternately into the old month and the recent ones, until AFTER uploads past the
        # archive.
        nonlocal done, pairs
        keys = stored.setdefault(str(who.patient_id), set())
        for b in range(MOST):
            if archived_at is not None and done >= archived_at + AFTER * CLIENTS:
                return
            old = b % 2 == 0
            # The app resends a batch whose answer it missed.
            resend = b % 3 == 0 and not (old and archiving)
            pairs += resend and old
            base = old_start if old else recent_start
            body = who.cgm_batch(base + timedelta(hours=b), BATCH)
            report = await _upload(http, who, body)
            assert report["rejected"] == 0, report
            for item in body["items"]:
                keys.add((item["device_id"], item["measured_at"]))
            if resend:
                again = await _upload(http, who, body)
                assert again["duplicate"] == BATCH, again
            async with progress:
                pairs -= resend and old
                done += 1
                progress.notify_all()

        raise AssertionError("the partitions were not archived while the clients uploaded")

    async def reached(uploads: int) -> None:
        async with progress:
            await progress.wait_for(lambda: done >= uploads)

    attempts = {"create": 0, "archive": 0}

    async def operator() -> list[str]:
        nonlocal archived_at, archiving
        await reached(BEFORE * CLIENTS)
        while True:  # rows arriving for a month while it is created can make it refuse
            attempts["create"] += 1
            try:
                async with unit_of_work(fault_db.sessionmaker) as session:
                    created = await repository.create_partitions(
                        session, last_month, 2, reading_jobs.PARTITION_LOCK_TIMEOUT_MS
                    )
                break
            except DBAPIError:
                await asyncio.sleep(0.05)
        assert created == 2
        await reached(done + BEFORE * CLIENTS)
        first_kept = reading_jobs.months_before(today, 1)
        archiving = True
        async with progress:
            await progress.wait_for(lambda: pairs == 0)
        while True:  # the detach gives up when it waits too long for the table's lock
            attempts["archive"] += 1
            try:
                names = await reading_jobs.archive_partitions_before(
                    fault_db.sessionmaker, first_kept
                )
                archived_at = done
                return names
            except DBAPIError:
                await asyncio.sleep(0.05)

    env = service_env(fault_db.url, db_pool_size="8")
    async with (
        start_uvicorn(env, startup_timeout=90) as server,
        httpx.AsyncClient(base_url=server.url, timeout=60) as http,
    ):
        *_, archived = await asyncio.gather(
            *(client(http, who) for who in people.patients), operator()
        )

    old = f"readings_p{old_month:%Y%m}"
    assert old in archived and f"readings_p{_month(recent_start)}" not in archived
    devices = [str(who.device_id) for who in people.patients]
    async with fault_db.sessionmaker() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT device_id::text, measured_at FROM readings"
                    " WHERE device_id::text = ANY(:d) UNION ALL"
                    f" SELECT device_id::text, measured_at FROM reading_archive.{old}"
                    " WHERE device_id::text = ANY(:d)"
                ),
                {"d": devices},
            )
        ).all()
        in_default = await session.scalar(
            text(
                "SELECT count(*) FROM reading_partitions.readings_default"
                " WHERE measured_at >= :since"
            ),
            {"since": recent_start},
        )
        in_archive = await session.scalar(
            text(f"SELECT count(*) FROM reading_archive.{old} WHERE device_id::text = ANY(:d)"),
            {"d": devices},
        )
        await session.execute(text(f"DROP TABLE reading_archive.{old}"))
        after_drop = await session.scalar(
            text("SELECT count(*) FROM readings WHERE device_id::text = ANY(:d)"), {"d": devices}
        )
        await session.commit()

    answered = {
        (device, datetime.fromisoformat(at)) for keys in stored.values() for device, at in keys
    }
    found = [(device, at) for device, at in rows]
    assert len(found) == len(set(found)), "a reading is stored twice"
    assert set(found) == answered
    assert len(answered) == done * BATCH
    # The recent months' rows all left the default partition; the old month's went to the
    # archive until its detach, and to the default partition after it.
    assert in_default == 0
    old_month_readings = sum(1 for _, at in answered if at < recent_start)
    assert 0 < (in_archive or 0) < old_month_readings
    assert after_drop == len(answered) - in_archive
    print(f"attempts {attempts}; archived {in_archive} of {len(answered)} readings")
