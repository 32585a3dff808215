"""Verified insured identity: only bureau clerks record it, every act is audited, it supersedes
the one in force, re-binds the unexpired entitlements, and the source seam plugs in."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.authz.principal import Principal
from app.errors import NotFound
from app.identity import repository as identity_repository
from app.identity import service as identity_service
from app.identity.sources import PersonRecord
from app.models import AuditEvent, Entitlement, InsuredIdentity, Role
from tests.enrollment import builders
from tests.fixtures import factories


def _verify_url(patient_id) -> str:
    return f"/api/v1/identity/patients/{patient_id}/verifications"


def _verification(national_id: str, insurance_type: str = "310", **extra) -> dict:
    return {
        "national_id": national_id,
        "insurance_type": insurance_type,
        "insured_area": "140300",
        **extra,
    }


async def _clerk(db_session, settings):
    account = await factories.account(db_session, Role.bureau)
    return account, await factories.bearer(db_session, settings, account)


async def test_a_clerk_verifies_audited_and_the_entitlement_is_bound(
    client, db_session, settings
) -> None:
    _, patient = await builders.patient(db_session, "M01603")
    entitlement = await db_session.scalar(
        select(Entitlement).where(Entitlement.patient_id == patient.id)
    )
    assert entitlement is not None
    assert await identity_repository.bound_identity_id(db_session, entitlement.id) is None
    clerk, headers = await _clerk(db_session, settings)
    number = factories.resident_id()
    body = _verification(
        number, personal_account=True, personal_account_balance_fen=80_000, reference="社保卡"
    )
    answer = await client.post(_verify_url(patient.id), json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    verified = answer.json()
    assert (verified["source"], verified["verified_by_account_id"]) == ("staff", str(clerk.id))
    assert verified["personal_account_available_fen"] == 80_000
    bound = await identity_repository.bound_identity_id(db_session, entitlement.id)
    assert str(bound) == verified["id"]
    await db_session.refresh(patient)
    assert (patient.national_id, patient.insurance_type) == (number, "310")
    events = (
        await db_session.execute(
            select(AuditEvent.resource_type, AuditEvent.action, AuditEvent.actor_account_id).where(
                AuditEvent.patient_id == patient.id, AuditEvent.actor_role == "bureau"
            )
        )
    ).all()
    assert ("insured_identity", "create", clerk.id) in events
    assert ("entitlement", "update", clerk.id) in events


async def test_a_re_verification_supersedes_and_re_binds(client, db_session, settings) -> None:
    _, patient = await builders.patient(db_session, "M01603")
    _, headers = await _clerk(db_session, settings)
    number = factories.resident_id()
    first = await client.post(
        _verify_url(patient.id), json=_verification(number, "390"), headers=headers
    )
    second = await client.post(
        _verify_url(patient.id), json=_verification(number, "310"), headers=headers
    )
    assert first.status_code == second.status_code == 201
    rows = (
        await db_session.scalars(
            select(InsuredIdentity).where(InsuredIdentity.patient_id == patient.id)
        )
    ).all()
    by_id = {str(r.id): r for r in rows}
    assert str(by_id[second.json()["id"]].supersedes_id) == first.json()["id"]
    entitlement = await db_session.scalar(
        select(Entitlement).where(Entitlement.patient_id == patient.id)
    )
    bound = await identity_repository.bound_identity_id(db_session, entitlement.id)
    assert str(bound) == second.json()["id"]


async def test_a_number_verified_for_another_patient_is_a_conflict_for_staff(
    client, db_session, settings
) -> None:
    _, first = await builders.patient(db_session)
    _, second = await builders.patient(db_session)
    _, headers = await _clerk(db_session, settings)
    number = factories.resident_id()
    ok = await client.post(_verify_url(first.id), json=_verification(number), headers=headers)
    assert ok.status_code == 201
    clash = await client.post(_verify_url(second.id), json=_verification(number), headers=headers)
    assert clash.status_code == 409
    assert clash.json()["code"] == "national_id_held_by_other_patient"


async def test_a_resident_has_no_personal_account(client, db_session, settings) -> None:
    _, patient = await builders.patient(db_session)
    _, headers = await _clerk(db_session, settings)
    body = _verification(factories.resident_id(), "390", personal_account=True)
    answer = await client.post(_verify_url(patient.id), json=body, headers=headers)
    assert answer.status_code == 422


async def test_only_the_bureau_verifies_or_reads_identities(client, db_session, settings) -> None:
    patient_account, patient = await builders.patient(db_session)
    body = _verification(factories.resident_id())
    for role in (Role.patient, Role.doctor, Role.pharmacist, Role.courier, Role.admin):
        account = (
            patient_account if role == Role.patient else await factories.account(db_session, role)
        )
        headers = await factories.bearer(db_session, settings, account)
        assert (
            await client.post(_verify_url(patient.id), json=body, headers=headers)
        ).status_code == 403, role
        assert (
            await client.get(f"/api/v1/identity/patients/{patient.id}", headers=headers)
        ).status_code == 403, role
        assert (await client.get("/api/v1/identity/reviews", headers=headers)).status_code == 403
    assert await db_session.scalar(select(func.count()).select_from(InsuredIdentity).where(
        InsuredIdentity.patient_id == patient.id
    )) == 0  # fmt: skip


async def test_an_unknown_patient_is_404(client, db_session, settings) -> None:
    _, headers = await _clerk(db_session, settings)
    answer = await client.post(
        _verify_url(uuid.uuid4()), json=_verification(factories.resident_id()), headers=headers
    )
    assert answer.status_code == 404


async def test_the_clerk_sees_declared_and_verified_compared(client, db_session, settings) -> None:
    patient_account, patient = await builders.patient(db_session)
    patient_h = await factories.bearer(db_session, settings, patient_account)
    _, headers = await _clerk(db_session, settings)
    number = factories.resident_id()
    await client.post(
        "/api/v1/patients/me/identity/declarations",
        json={"national_id": number, "insurance_type": "310", "insured_area": "140300"},
        headers=patient_h,
    )
    await client.post(_verify_url(patient.id), json=_verification(number, "390"), headers=headers)
    seen = (await client.get(f"/api/v1/identity/patients/{patient.id}", headers=headers)).json()
    assert seen["differences"] == ["insurance_type"] and seen["settleable"] is False
    mine = (await client.get("/api/v1/patients/me/identity", headers=patient_h)).json()
    assert mine["differences"] == ["insurance_type"] and mine["verified"]["insurance_type"] == "390"


class _Platform:
    """A stand-in for the insurance platform's person query (its adapter plugs the real one in)."""

    def __init__(self, known: dict[str, PersonRecord]) -> None:
        self.known = known

    async def look_up(self, national_id: str, insured_area: str) -> PersonRecord | None:
        return self.known.get(national_id)


async def test_an_authoritative_source_plugs_into_the_same_path(db_session) -> None:
    _, patient = await builders.patient(db_session, "M01603")
    clerk = await factories.account(db_session, Role.bureau)
    principal = Principal(clerk.id, uuid.uuid4(), Role.bureau, clerk.display_name)
    number = factories.resident_id()
    platform = _Platform(
        {number: PersonRecord(number, "310", "140300", True, 5_000, "insurer_platform", "msg-1")}
    )
    identity = await identity_service.verify_from_source(
        db_session, principal, patient.id, platform, number, "140300"
    )
    assert (identity.source, identity.source_reference) == ("insurer_platform", "msg-1")
    entitlement = await db_session.scalar(
        select(Entitlement).where(Entitlement.patient_id == patient.id)
    )
    assert await identity_repository.bound_identity_id(db_session, entitlement.id) == identity.id
    with pytest.raises(NotFound) as unknown:
        await identity_service.verify_from_source(
            db_session, principal, patient.id, platform, factories.resident_id(), "140300"
        )
    assert unknown.value.code == "insured_person_not_found"


async def test_an_identical_verification_replays_the_one_in_force(
    client, db_session, settings
) -> None:
    _, patient = await builders.patient(db_session)
    _, headers = await _clerk(db_session, settings)
    body = _verification(factories.resident_id())
    first = await client.post(_verify_url(patient.id), json=body, headers=headers)
    again = await client.post(_verify_url(patient.id), json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    created = await db_session.scalar(
        select(func.count()).where(
            AuditEvent.patient_id == patient.id,
            AuditEvent.resource_type == "insured_identity",
            AuditEvent.action == "create",
        )
    )
    assert created == 1
