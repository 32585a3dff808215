"""Starting a primary relationship: the load counter takes the place, the exact count decides."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.care import relationships as relationship_service
from app.care.relationships import DoctorAtCapacity
from app.kit.clock import utcnow
from app.models import CareRelationship, DoctorLoad, Patient, Role
from tests.enrollment import builders
from tests.fixtures import factories


async def _patient(db_session) -> Patient:
    _, patient = await builders.patient(db_session)
    return patient


async def _counter(db_session, doctor_id: uuid.UUID) -> int | None:
    return await db_session.scalar(
        select(DoctorLoad.active_patients).where(DoctorLoad.doctor_id == doctor_id)
    )


async def _set_counter(db_session, doctor_id: uuid.UUID, value: int) -> None:
    (await db_session.get(DoctorLoad, doctor_id)).active_patients = value
    await db_session.flush()


async def test_a_counter_behind_the_real_count_cannot_put_a_doctor_over_capacity(db_session):
    _, doctor = await builders.doctor(db_session, capacity=2)
    for _ in range(2):
        await factories.care(db_session, await _patient(db_session), doctor)
    await _set_counter(db_session, doctor.id, 0)
    patient = await _patient(db_session)
    with pytest.raises(DoctorAtCapacity):
        await relationship_service.start_primary(db_session, patient.id, doctor.id, utcnow())
    assert await _counter(db_session, doctor.id) == 2
    assert (
        await db_session.scalar(
            select(CareRelationship.id).where(CareRelationship.patient_id == patient.id)
        )
        is None
    )


async def test_a_drifted_counter_is_put_right_when_the_doctor_takes_a_patient(db_session):
    _, doctor = await builders.doctor(db_session, capacity=5)
    await factories.care(db_session, await _patient(db_session), doctor)
    await _set_counter(db_session, doctor.id, 4)
    patient = await _patient(db_session)
    relationship = await relationship_service.start_primary(
        db_session, patient.id, doctor.id, utcnow()
    )
    assert (relationship.doctor_id, relationship.kind) == (doctor.id, "primary")
    assert await _counter(db_session, doctor.id) == 2


async def test_a_doctor_without_load_counters_gets_them_with_the_first_patient(db_session):
    doctor = await factories.doctor_of(db_session, await factories.account(db_session, Role.doctor))
    assert await _counter(db_session, doctor.id) is None
    await relationship_service.start_primary(
        db_session, (await _patient(db_session)).id, doctor.id, utcnow()
    )
    assert await _counter(db_session, doctor.id) == 1


async def test_team_access_to_the_doctor_becomes_the_primary_relationship(db_session):
    _, doctor = await builders.doctor(db_session)
    patient = await _patient(db_session)
    access = await factories.care(db_session, patient, doctor)
    access.kind = "team"
    await db_session.flush()
    now = utcnow()
    relationship = await relationship_service.start_primary(db_session, patient.id, doctor.id, now)
    assert relationship.id != access.id
    assert (access.ended_at, access.ended_reason) == (now, "became_primary")
    assert await _counter(db_session, doctor.id) == 1
