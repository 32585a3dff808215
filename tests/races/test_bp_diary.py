"""Races on the sleep diary: the same night sent at once is stored once, every answer 2xx with
it; different nights for one bed time: one wins, the rest 409. Never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import BpSleepPeriod, Role
from tests.fixtures import factories
from tests.fixtures.races import RACERS, RaceServer, race, race_all
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

BED = datetime(2026, 12, 1, 15, tzinfo=UTC)  # 23:00 in Shanghai


async def _patient(server: RaceServer) -> tuple[str, dict[str, str]]:
    async def build(session: AsyncSession) -> tuple[str, dict[str, str]]:
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        return str(patient.id), await factories.bearer(session, server.settings, account)

    return await committed(server, build)


async def _stored(server: RaceServer, patient_id: str) -> int:
    return int(
        await server.scalar(
            select(func.count())
            .select_from(BpSleepPeriod)
            .where(BpSleepPeriod.patient_id == patient_id)
        )
    )


async def test_the_same_night_at_once_is_stored_once(server: RaceServer) -> None:
    patient_id, headers = await _patient(server)
    body = {"bed_at": BED.isoformat(), "rise_at": (BED + timedelta(hours=8)).isoformat()}
    url = f"/api/v1/patients/{patient_id}/bp-sleep-periods"
    result = await race(server.http, "POST", url, json=body, headers=headers)
    result.all_replay()
    assert result.statuses.count(201) == 1
    assert await _stored(server, patient_id) == 1


async def test_other_nights_from_one_bed_time_at_once_one_wins(server: RaceServer) -> None:
    patient_id, headers = await _patient(server)
    url = f"/api/v1/patients/{patient_id}/bp-sleep-periods"
    requests = [
        (
            "POST",
            url,
            {
                "json": {
                    "bed_at": BED.isoformat(),
                    "rise_at": (BED + timedelta(hours=6, minutes=n)).isoformat(),
                },
                "headers": headers,
            },
        )
        for n in range(RACERS)
    ]
    result = await race_all(server.http, requests)
    result.one_winner("sleep_period_conflict", "sleep_period_overlaps")
    assert await _stored(server, patient_id) == 1
