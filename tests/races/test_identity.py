"""Races on insured identity: identical verifications at once record one identity; identical
declarations with one key store one; a burst of declarations never passes the rate limit."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IdentityDeclaration, InsuredIdentity, Role
from tests.fixtures import factories
from tests.fixtures.races import RACERS, RaceServer, race, race_all
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres


async def _people(server: RaceServer) -> tuple[str, dict[str, str], dict[str, str]]:
    """A patient (id, headers) and a bureau clerk's headers."""

    async def build(session: AsyncSession):
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        clerk = await factories.account(session, Role.bureau)
        return (
            str(patient.id),
            await factories.bearer(session, server.settings, account),
            await factories.bearer(session, server.settings, clerk),
        )

    return await committed(server, build)


async def test_identical_verifications_at_once_record_one_identity(server: RaceServer) -> None:
    patient_id, _, clerk = await _people(server)
    body = {
        "national_id": factories.resident_id(),
        "insurance_type": "310",
        "insured_area": "140300",
        "personal_account": True,
        "personal_account_balance_fen": 10_000,
    }
    result = await race(
        server.http,
        "POST",
        f"/api/v1/identity/patients/{patient_id}/verifications",
        json=body,
        headers=clerk,
    )
    result.all_replay()
    count = await server.scalar(
        select(func.count()).where(InsuredIdentity.patient_id == patient_id)
    )
    assert count == 1


async def test_identical_declarations_with_one_key_store_one(server: RaceServer) -> None:
    patient_id, patient, _ = await _people(server)
    body = {
        "national_id": factories.resident_id(),
        "insurance_type": "390",
        "insured_area": "140300",
    }
    result = await race(
        server.http,
        "POST",
        "/api/v1/patients/me/identity/declarations",
        json=body,
        headers={**patient, "Idempotency-Key": "declare-race"},
    )
    result.no_server_errors()
    # The key's first request stores the declaration; the others replay it or are told the
    # key is in use (409), never a second row.
    assert all(r.status_code in (202, 409) for r in result.responses)
    ids = {r.json()["id"] for r in result.responses if r.status_code == 202}
    assert len(ids) == 1
    count = await server.scalar(
        select(func.count()).where(IdentityDeclaration.patient_id == patient_id)
    )
    assert count == 1


async def test_a_burst_of_declarations_stops_at_the_limit(server: RaceServer) -> None:
    patient_id, patient, _ = await _people(server)
    limit = server.settings.identity_declarations_per_window
    requests = [
        (
            "POST",
            "/api/v1/patients/me/identity/declarations",
            {
                "json": {
                    "national_id": factories.resident_id(),
                    "insurance_type": "390",
                    "insured_area": "140300",
                },
                "headers": patient,
            },
        )
        for _ in range(max(RACERS, limit + 3))
    ]
    result = await race_all(server.http, requests)
    result.no_server_errors()
    accepted = [r for r in result.responses if r.status_code == 202]
    refused = [r for r in result.responses if r.status_code == 429]
    assert len(accepted) == limit and len(accepted) + len(refused) == len(requests)
    assert all("Retry-After" in r.headers for r in refused)
    count = await server.scalar(
        select(func.count()).where(IdentityDeclaration.patient_id == patient_id)
    )
    assert count == limit
