"""Plausible density: readings of one device and kind closer than its spacing are refused
(`too_dense`), within a batch and against readings already stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.main import create_app
from app.models import Reading
from tests.fixtures.servers import serve_in_loop
from tests.reading.helpers import (
    bp_item,
    cgm_item,
    committed_database,
    committed_patient,
    device,
    upload,
    wearer,
)


async def _count(db_session, device_id) -> int:
    return int(
        await db_session.scalar(
            select(func.count()).select_from(Reading).where(Reading.device_id == device_id)
        )
        or 0
    )


async def test_a_burst_one_second_apart_keeps_one_reading_per_half_interval(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)  # a 300 s CGM
    start = utcnow() - timedelta(hours=1)
    items = [cgm_item(who.cgm, start + timedelta(seconds=i), 6.0) for i in range(600)]
    report = await upload(client, who.headers, items, language="en")
    # One every 150 s (half the interval) survives: seconds 0, 150, 300 and 450.
    accepted = [i["index"] for i in report["items"] if i["status"] == "accepted"]
    assert accepted == [0, 150, 300, 450]
    refused = report["items"][1]
    assert (refused["reason"], refused["field"]) == ("too_dense", "measured_at")
    assert refused["message"] == (
        "Less than 150 s from another reading of the same device: implausible"
    )
    assert await _count(db_session, who.cgm.id) == 4


async def test_a_reading_too_close_to_a_stored_one_is_refused_and_the_same_one_is_a_duplicate(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    at = utcnow() - timedelta(hours=2)
    await upload(client, who.headers, [cgm_item(who.cgm, at, 6.0)])
    later = [
        cgm_item(who.cgm, at, 6.0),  # the same reading again
        cgm_item(who.cgm, at + timedelta(seconds=60), 6.1),  # a minute after a 5-minute one
        cgm_item(who.cgm, at - timedelta(seconds=149), 6.1),  # just inside the spacing before
        cgm_item(who.cgm, at + timedelta(seconds=300), 6.2),  # the next plausible one
    ]
    report = await upload(client, who.headers, later)
    assert [(i["status"], i["reason"]) for i in report["items"]] == [
        ("duplicate", None),
        ("rejected", "too_dense"),
        ("rejected", "too_dense"),
        ("accepted", None),
    ]
    assert await _count(db_session, who.cgm.id) == 2


async def test_the_spacing_follows_the_device_interval(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    one_minute = await device(db_session, who.patient, "cgm", "mmol/L", sample_interval_seconds=60)
    start = utcnow() - timedelta(hours=1)
    items = [cgm_item(one_minute, start + timedelta(seconds=60 * i), 6.0) for i in range(5)]
    items += [cgm_item(who.cgm, start + timedelta(seconds=60 * i), 6.0) for i in range(5)]
    report = await upload(client, who.headers, items)
    statuses = [i["status"] for i in report["items"]]
    # The 1-minute CGM keeps all five; the 5-minute one keeps minutes 0 and 3 (>= 150 s).
    assert statuses[:5] == ["accepted"] * 5
    assert statuses[5:] == ["accepted", "rejected", "rejected", "accepted", "rejected"]


async def test_other_kinds_need_the_minimum_spacing(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    at = utcnow() - timedelta(minutes=30)
    items = [
        bp_item(who.bp, at, 140, 90),
        bp_item(who.bp, at + timedelta(seconds=10), 141, 90),  # 10 s later: implausible
        bp_item(who.bp, at + timedelta(seconds=60), 138, 88),  # the second of a pair, 1 min on
    ]
    report = await upload(client, who.headers, items)
    assert [i["reason"] for i in report["items"]] == [None, "too_dense", None]


@pytest.mark.postgres
async def test_concurrent_bursts_cannot_crowd_a_device() -> None:
    # 40 requests at once, each one reading 1 s after the previous request's: the patient's
    # uploads are taken one at a time, so only readings >= 150 s apart are stored.
    async with committed_database() as (settings, sessionmaker):
        patient, headers = await committed_patient(sessionmaker, settings)
        async with sessionmaker() as session:
            cgm = await device(session, patient, "cgm", "mmol/L")
            await session.commit()
        start = utcnow() - timedelta(hours=1)
        async with (
            serve_in_loop(create_app(settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/readings",
                        json={"items": [cgm_item(cgm, start + timedelta(seconds=i), 6.0)]},
                        headers=headers,
                    )
                    for i in range(40)
                )
            )
        assert {r.status_code for r in responses} == {200}
        accepted = sum(r.json()["accepted"] for r in responses)
        async with sessionmaker() as session:
            stored = list(
                await session.scalars(
                    select(Reading.measured_at)
                    .where(Reading.device_id == cgm.id)
                    .order_by(Reading.measured_at)
                )
            )
    assert accepted == len(stored) == 1
