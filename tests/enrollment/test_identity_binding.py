"""Approval binds the verified insured identity in force to the new entitlement (and without
one the entitlement is unbound until the bureau verifies)."""

from __future__ import annotations

from sqlalchemy import select

from app.identity import repository as identity_repository
from app.models import Entitlement
from tests.enrollment.test_applications import APPS, _setup, _submitted
from tests.fixtures import factories


async def _approve(client, db_session, patient, reviewer, patient_h, reviewer_h) -> Entitlement:
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    decided = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    assert decided.status_code == 200, decided.text
    entitlement = await db_session.scalar(
        select(Entitlement).where(Entitlement.patient_id == patient.id)
    )
    assert entitlement is not None
    return entitlement


async def test_approval_binds_the_verified_identity(client, db_session, settings) -> None:
    patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    identity = await factories.insured(db_session, patient, insurance_type="390")
    entitlement = await _approve(client, db_session, patient, reviewer, patient_h, reviewer_h)
    assert await identity_repository.bound_identity_id(db_session, entitlement.id) == identity.id


async def test_an_unverified_patient_is_bound_when_the_bureau_verifies(
    client, db_session, settings
) -> None:
    patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    entitlement = await _approve(client, db_session, patient, reviewer, patient_h, reviewer_h)
    assert await identity_repository.bound_identity_id(db_session, entitlement.id) is None
    identity = await factories.insured(db_session, patient, insurance_type="310")
    assert await identity_repository.bound_identity_id(db_session, entitlement.id) == identity.id
    assert (await identity_repository.current_identity(db_session, patient.id)) == identity
