"""Races on enrollment, consultations, referrals and prescriptions: N identical requests at
once against a real server on PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import (
    Account,
    CareRelationship,
    ConsultationRequest,
    Doctor,
    EnrollmentApplication,
    Entitlement,
    Patient,
    Prescription,
    PrescriptionTransition,
    Referral,
    Role,
)
from tests.enrollment import builders
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race
from tests.prescription import phone as doctor_phone
from tests.prescription.world import World, build, ok, rx_body, signed
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

APPS = "/api/v1/enrollment/applications"
CONSULT = "/api/v1/consultations"


@dataclass
class Clinic:
    patient_id: uuid.UUID
    patient: dict[str, str]
    doctor: Doctor
    doctor_headers: dict[str, str]


async def _clinic(server: RaceServer, entitled: bool = True) -> Clinic:
    """A patient (entitled, or not yet) and an online doctor who reviews their institution."""

    async def build_clinic(session: AsyncSession) -> Clinic:
        await builders.catalogue(session)
        patient_account, patient = await builders.patient(
            session, *(("M01603",) if entitled else ())
        )
        doctor_account, doctor = await builders.doctor(session, presence="online")
        admin = await factories.account(session, Role.admin)
        await factories.enrollment_reviewer(session, doctor, admin)
        return Clinic(
            patient.id,
            await factories.bearer(session, server.settings, patient_account),
            doctor,
            await factories.bearer(session, server.settings, doctor_account),
        )

    return await committed(server, build_clinic)


async def test_one_application_key_sent_at_once_makes_one_application(server: RaceServer) -> None:
    clinic = await _clinic(server, entitled=False)
    body = {"disease_code": "M01603", "institution_id": str(clinic.doctor.institution_id)}
    headers = {**clinic.patient, "Idempotency-Key": f"apply-{uuid.uuid4().hex}"}
    (await race(server.http, "POST", APPS, json=body, headers=headers)).all_replay()
    applications = await server.count(
        EnrollmentApplication, EnrollmentApplication.patient_id == clinic.patient_id
    )
    assert applications == 1


async def test_concurrent_approvals_grant_one_entitlement(server: RaceServer) -> None:
    clinic = await _clinic(server, entitled=False)

    async def pending(session: AsyncSession) -> uuid.UUID:
        disease = (await builders.diseases(session))["M01603"]
        row = EnrollmentApplication(
            patient_id=clinic.patient_id,
            disease_id=disease.id,
            institution_id=clinic.doctor.institution_id,
            status="pending",
            submitted_at=utcnow(),
        )
        session.add(row)
        await session.flush()
        return row.id

    application_id = await committed(server, pending)
    result = await race(
        server.http,
        "POST",
        f"{APPS}/{application_id}/decision",
        json={"approve": True},
        headers=clinic.doctor_headers,
    )
    result.one_winner()
    assert await server.count(Entitlement, Entitlement.application_id == application_id) == 1


async def test_one_consultation_key_sent_at_once_queues_once(server: RaceServer) -> None:
    clinic = await _clinic(server)
    headers = {**clinic.patient, "Idempotency-Key": f"ask-{uuid.uuid4().hex}"}
    result = await race(server.http, "POST", CONSULT, json={"reason": "血糖高"}, headers=headers)
    result.all_replay()
    requests = await server.count(
        ConsultationRequest, ConsultationRequest.patient_id == clinic.patient_id
    )
    assert requests == 1


async def test_a_consultation_started_at_once_starts_once(server: RaceServer) -> None:
    clinic = await _clinic(server)
    asked = await ok(
        await server.http.post(CONSULT, json={"reason": "头晕"}, headers=clinic.patient), 201
    )

    async def doctor_headers(session: AsyncSession) -> dict[str, str]:
        request = await session.get(ConsultationRequest, uuid.UUID(asked["id"]))
        assert request is not None
        doctor = await session.get(Doctor, request.doctor_id)
        assert doctor is not None
        account = await session.get(Account, doctor.account_id)
        assert account is not None
        return await factories.bearer(session, server.settings, account)

    headers = await committed(server, doctor_headers)
    result = await race(server.http, "POST", f"{CONSULT}/{asked['id']}/start", headers=headers)
    result.one_winner()


async def test_online_care_started_at_once_assigns_one_doctor(server: RaceServer) -> None:
    clinic = await _clinic(server)
    result = await race(
        server.http,
        "POST",
        "/api/v1/online-care/start",
        json={"institution_id": str(clinic.doctor.institution_id)},
        headers=clinic.patient,
    )
    result.no_server_errors()
    assert all(r.status_code in (200, 409) for r in result.responses)
    primaries = await server.count(
        CareRelationship,
        CareRelationship.patient_id == clinic.patient_id,
        CareRelationship.kind == "primary",
        CareRelationship.ended_at.is_(None),
    )
    assert primaries == 1


async def test_one_referral_key_sent_at_once_refers_once(server: RaceServer) -> None:
    clinic = await _clinic(server)

    async def in_care(session: AsyncSession) -> uuid.UUID:
        patient = await session.get(Patient, clinic.patient_id)
        await factories.care(session, patient, clinic.doctor)
        return (await factories.institution(session, level="secondary")).id

    hospital = await committed(server, in_care)
    body = {
        "patient_id": str(clinic.patient_id),
        "direction": "down",
        "to_institution_id": str(hospital),
        "reason": "病情稳定，下转社区随访",
    }
    headers = {**clinic.doctor_headers, "Idempotency-Key": f"ref-{uuid.uuid4().hex}"}
    result = await race(server.http, "POST", "/api/v1/care/referrals", json=body, headers=headers)
    result.all_replay()
    assert await server.count(Referral, Referral.patient_id == clinic.patient_id) == 1


async def _rx_world(server: RaceServer) -> World:
    async def build_world(session: AsyncSession) -> World:
        return await build(session, server.settings)

    return await committed(server, build_world)


async def test_one_prescription_key_sent_at_once_writes_one_draft(server: RaceServer) -> None:
    world = await _rx_world(server)
    headers = {**world.as_("doctor"), "Idempotency-Key": f"rx-{uuid.uuid4().hex}"}
    result = await race(
        server.http, "POST", "/api/v1/prescriptions", json=rx_body(world), headers=headers
    )
    result.all_replay()
    assert await server.count(Prescription, Prescription.patient_id == world.patient.id) == 1


async def _moves(server: RaceServer, prescription_id: str, status: str) -> int:
    return await server.count(
        PrescriptionTransition,
        PrescriptionTransition.prescription_id == uuid.UUID(prescription_id),
        PrescriptionTransition.to_status == status,
    )


async def test_a_draft_signed_at_once_is_signed_once(server: RaceServer) -> None:
    world = await _rx_world(server)
    draft = await ok(
        await server.http.post(
            "/api/v1/prescriptions", json=rx_body(world), headers=world.as_("doctor")
        ),
        201,
    )
    content = (await doctor_phone.payload(server.http, draft["id"], world.as_("doctor")))[
        "signed_content"
    ]
    result = await race(
        server.http,
        "POST",
        f"/api/v1/prescriptions/{draft['id']}/sign",
        json={"signed_content": content, "signature": world.phone.sign(content)},
        headers=world.as_("doctor"),
    )
    result.one_winner("illegal_transition")
    assert await _moves(server, draft["id"], "pending_review") == 1


@pytest.mark.parametrize("review", ["approve", "reject"])
async def test_a_prescription_reviewed_at_once_is_reviewed_once(
    server: RaceServer, review: str
) -> None:
    world = await _rx_world(server)
    prescription_id = await signed(server.http, world)
    result = await race(
        server.http,
        "POST",
        f"/api/v1/prescriptions/{prescription_id}/{review}",
        json={"reason": "剂量需调整"} if review == "reject" else None,
        headers=world.as_("reviewer"),
    )
    status = "approved" if review == "approve" else "rejected"
    result.one_winner("illegal_transition")
    assert await _moves(server, prescription_id, status) == 1


async def test_a_prescription_revoked_at_once_is_revoked_once(server: RaceServer) -> None:
    world = await _rx_world(server)
    prescription_id = await signed(server.http, world)
    result = await race(
        server.http,
        "POST",
        f"/api/v1/prescriptions/{prescription_id}/revoke",
        json={"reason": "患者住院"},
        headers=world.as_("doctor"),
    )
    result.one_winner("illegal_transition")
    assert await _moves(server, prescription_id, "revoked") == 1


async def test_a_returned_prescription_revised_at_once_is_revised_once(server: RaceServer) -> None:
    """The doctor sends the revision from several devices at once: one goes back to draft with
    its new lines, the rest are 409 (a draft is not revised)."""
    world = await _rx_world(server)
    prescription_id = await signed(server.http, world)
    rejected = await server.http.post(
        f"/api/v1/prescriptions/{prescription_id}/reject",
        json={"reason": "剂量需调整"},
        headers=world.as_("reviewer"),
    )
    assert rejected.status_code == 200, rejected.text
    body = {"items": rx_body(world)["items"]}
    result = await race(
        server.http,
        "POST",
        f"/api/v1/prescriptions/{prescription_id}/revise",
        json=body,
        headers=world.as_("doctor"),
    )
    result.one_winner("illegal_transition")
    assert await _moves(server, prescription_id, "draft") == 2  # its writing and one revision
