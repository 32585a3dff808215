"""Under many parallel assignments no doctor exceeds capacity and no patient gets two doctors:
real requests against a real server on PostgreSQL, with committed data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from app.care import relationships as relationship_service
from app.care.relationships import DoctorAtCapacity
from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.kit.clock import utcnow
from app.main import create_app
from app.models import CareRelationship, Doctor, DoctorLoad, Institution
from tests.enrollment import builders
from tests.fixtures import databases, factories
from tests.fixtures.servers import serve_in_loop

pytestmark = pytest.mark.postgres

PATIENTS = 100
DOCTORS = 3
CAPACITY = 20


@pytest.fixture
async def committed() -> AsyncIterator[tuple[Settings, object]]:
    url = await databases.create_migrated_database()
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=url,
        outbox_relay_enabled=False,
        fake_wechat_enabled=False,
        db_pool_size=20,
        db_max_overflow=20,
    )
    engine = create_engine(settings)
    yield settings, create_sessionmaker(engine)
    await engine.dispose()
    await databases.drop_database(url)


async def _world(sessionmaker, settings, patients: int) -> tuple[Institution, list[dict[str, str]]]:
    async with sessionmaker() as session:
        hospital = await factories.institution(session)
        for _ in range(DOCTORS):
            await builders.doctor(
                session, capacity=CAPACITY, presence="online", institution=hospital
            )
        tokens = []
        for _ in range(patients):
            account, _ = await builders.patient(session, "M01603")
            tokens.append(await factories.bearer(session, settings, account))
        await session.commit()
    return hospital, tokens


async def test_parallel_assignments_never_exceed_capacity(committed) -> None:
    settings, sessionmaker = committed
    hospital, tokens = await _world(sessionmaker, settings, PATIENTS)
    app = create_app(settings)
    async with (
        serve_in_loop(app) as base_url,
        httpx.AsyncClient(
            base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=PATIENTS)
        ) as http,
    ):
        responses = await asyncio.gather(
            *(
                http.post(
                    "/api/v1/online-care/start",
                    json={"institution_id": str(hospital.id)},
                    headers=headers,
                )
                for headers in tokens
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == DOCTORS * CAPACITY
    assert statuses.count(409) == PATIENTS - DOCTORS * CAPACITY
    async with sessionmaker() as session:
        per_doctor = (
            await session.execute(
                select(CareRelationship.doctor_id, func.count())
                .where(CareRelationship.kind == "primary", CareRelationship.ended_at.is_(None))
                .group_by(CareRelationship.doctor_id)
            )
        ).all()
        per_patient = (
            await session.execute(
                select(func.count())
                .where(CareRelationship.kind == "primary", CareRelationship.ended_at.is_(None))
                .group_by(CareRelationship.patient_id)
                .having(func.count() > 1)
            )
        ).all()
    assert sorted(count for _, count in per_doctor) == [CAPACITY] * DOCTORS
    assert per_patient == []


async def test_one_patient_asking_many_times_at_once_gets_one_doctor(committed) -> None:
    settings, sessionmaker = committed
    hospital, tokens = await _world(sessionmaker, settings, 1)
    app = create_app(settings)
    async with (
        serve_in_loop(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=60) as http,
    ):
        responses = await asyncio.gather(
            *(
                http.post(
                    "/api/v1/online-care/start",
                    json={"institution_id": str(hospital.id)},
                    headers=tokens[0],
                )
                for _ in range(20)
            )
        )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["relationship"]["id"] for r in responses}) == 1
    assert sum(r.json()["created"] for r in responses) == 1


async def test_a_doctor_found_full_is_left_unlocked(committed) -> None:
    """What lets the engine try the next doctor without a savepoint: a refusal holds no lock
    on the full doctor, so requests never wait on each other's doctors in a cycle."""
    _, sessionmaker = committed
    async with sessionmaker() as session:
        _, doctor = await builders.doctor(session, capacity=1)
        _, first = await builders.patient(session, "M01603")
        _, second = await builders.patient(session, "M01603")
        await relationship_service.start_primary(session, first.id, doctor.id, utcnow())
        await session.commit()
    async with sessionmaker() as refusing, sessionmaker() as other:
        with pytest.raises(DoctorAtCapacity):
            await relationship_service.start_primary(refusing, second.id, doctor.id, utcnow())
        try:
            locked = await other.scalar(
                select(Doctor.id)
                .join(DoctorLoad, DoctorLoad.doctor_id == Doctor.id)
                .where(Doctor.id == doctor.id)
                .with_for_update(nowait=True)
            )
        except DBAPIError as exc:
            pytest.fail(f"the refused doctor is still locked: {exc}")
        assert locked == doctor.id
        await refusing.rollback()
