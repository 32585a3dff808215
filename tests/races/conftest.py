"""One real server for the race tests (a uvicorn process over its own PostgreSQL database);
each test commits its own fresh rows through `committed` (a referral through `referral`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race_server

T = TypeVar("T")


@pytest.fixture(scope="session")
async def server() -> AsyncIterator[RaceServer]:
    """The service under race: one per test process, started by its first race test. (Scoped
    to the package, it was started again for every file: pytest-xdist hands out whole files,
    so the package's files reach a worker between other packages'.)"""
    async with race_server() as running:
        yield running


async def committed(server: RaceServer, build: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Rows written by `build` and committed, so the server's connections see them."""
    async with server.sessionmaker() as session:
        result = await build(session)
        await session.commit()
    return result


@dataclass
class Referred:
    patient_id: uuid.UUID
    referring: dict[str, str]
    receiving: dict[str, str]
    receiving_doctor_id: uuid.UUID
    referral_id: str


async def referral(server: RaceServer, *, accepted: bool) -> Referred:
    """A patient in a tertiary doctor's primary care, referred down to a secondary hospital
    (and accepted there by a doctor of it, when `accepted`)."""

    async def build(session: AsyncSession) -> tuple[Any, ...]:
        patient = await factories.patient_of(
            session, await factories.account(session, Role.patient)
        )
        referring = await factories.account(session, Role.doctor)
        doctor = await factories.doctor_of(session, referring)
        await factories.care(session, patient, doctor)
        doctor.institution_id = (await factories.institution(session, level="tertiary")).id
        receiving = await factories.account(session, Role.doctor)
        hospital = await factories.institution(session, level="secondary")
        receiving_doctor = await factories.doctor_of(session, receiving)
        receiving_doctor.institution_id = hospital.id
        await session.flush()
        body = {
            "patient_id": str(patient.id),
            "direction": "down",
            "to_institution_id": str(hospital.id),
            "reason": "病情稳定，下转社区随访",
        }
        return (
            patient.id,
            await factories.bearer(session, server.settings, referring),
            await factories.bearer(session, server.settings, receiving),
            receiving_doctor.id,
            body,
        )

    patient_id, referring, receiving, receiving_doctor_id, body = await committed(server, build)
    made = await server.http.post("/api/v1/care/referrals", json=body, headers=referring)
    assert made.status_code == 201, made.text
    referral_id = made.json()["id"]
    if accepted:
        url = f"/api/v1/care/referrals/{referral_id}/accept"
        taken = await server.http.post(url, json={"reason": "同意接收"}, headers=receiving)
        assert taken.status_code == 200, taken.text
    return Referred(patient_id, referring, receiving, receiving_doctor_id, referral_id)
