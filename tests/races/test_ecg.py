"""Races on ECG strips: the same strip uploaded N times at once against a real server on
PostgreSQL is stored once (one strip, one watch bound), every answer naming it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import Alert, Device, EcgStrip, Role
from tests.ecg.helpers import apple_csv, beats_at, irregular_beats
from tests.fixtures import factories
from tests.fixtures.races import RACERS, RaceServer, race, race_all
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres


async def test_the_same_strip_at_once_is_stored_once(server: RaceServer) -> None:
    async def build(session: AsyncSession) -> tuple[object, dict[str, str]]:
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        return patient.id, await factories.bearer(session, server.settings, account)

    patient_id, headers = await committed(server, build)
    at = (utcnow() - timedelta(minutes=5)).replace(microsecond=0)
    body = apple_csv(beats_at(irregular_beats(), 30.0), at, "Atrial Fibrillation")
    result = await race(
        server.http,
        "POST",
        "/api/v1/ecg-strips",
        content=body,
        headers={**headers, "Content-Type": "text/csv"},
    )
    result.no_server_errors()
    result.all_replay()
    assert sorted(r.json()["status"] for r in result.responses).count("accepted") == 1
    strips = await server.scalar(
        select(func.count()).select_from(EcgStrip).where(EcgStrip.patient_id == patient_id)
    )
    watches = await server.scalar(
        select(func.count()).select_from(Device).where(Device.patient_id == patient_id)
    )
    assert (strips, watches) == (1, 1)


async def test_irregular_strips_at_once_raise_one_alert(server: RaceServer) -> None:
    # A phone syncing several irregular strips in parallel: one episode, so one alert.
    async def build(session: AsyncSession) -> tuple[object, dict[str, str]]:
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        return patient.id, await factories.bearer(session, server.settings, account)

    patient_id, headers = await committed(server, build)
    start = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    irregular = beats_at(irregular_beats(), 30.0)
    requests = [
        (
            "POST",
            "/api/v1/ecg-strips",
            {
                "content": apple_csv(irregular + n, start + timedelta(minutes=n), "Inconclusive"),
                "headers": {**headers, "Content-Type": "text/csv"},
            },
        )
        for n in range(RACERS)
    ]
    result = await race_all(server.http, requests)
    result.no_server_errors()
    assert [r.json()["rr_irregular"] for r in result.responses] == [True] * RACERS
    alerts = await server.scalar(
        select(func.count())
        .select_from(Alert)
        .where(Alert.patient_id == patient_id, Alert.rule == "irregular_rhythm")
    )
    assert alerts == 1
