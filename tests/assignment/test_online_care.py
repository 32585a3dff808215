"""Starting online care, changing doctor, transfers: the engine's choices and refusals."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.alert.urgency import Urgency
from app.assignment import engine
from app.enrollment import entitlements as entitlement_service
from app.errors import Conflict
from app.kit.clock import city_date
from app.models import CareRelationship
from tests.assignment.helpers import headers, start
from tests.enrollment import builders
from tests.fixtures import factories


async def test_not_entitled_patients_cannot_start_online_care(client, db_session, settings):
    await builders.catalogue(db_session)
    account, _ = await builders.patient(db_session)
    _, doctor = await builders.doctor(db_session, presence="online")
    response = await client.post(
        "/api/v1/online-care/start",
        json={"institution_id": str(doctor.institution_id)},
        headers=await headers(db_session, settings, account),
    )
    assert response.status_code == 409 and response.json()["code"] == "not_entitled"


async def test_an_entitlement_for_a_disease_not_admitted_online_is_not_enough(
    client, db_session, settings
):
    account, _ = await builders.patient(db_session, "M01600")  # diabetes without complications
    _, doctor = await builders.doctor(db_session, presence="online")
    response = await client.post(
        "/api/v1/online-care/start",
        json={"institution_id": str(doctor.institution_id)},
        headers=await headers(db_session, settings, account),
    )
    assert response.status_code == 409 and response.json()["code"] == "not_entitled"


async def test_an_expired_entitlement_stops_online_care_and_new_prescriptions(
    client, db_session, settings
):
    account, patient = await builders.patient(db_session)
    expired = await builders.entitle(
        db_session, patient, valid_until=city_date() - timedelta(days=1)
    )
    _, doctor = await builders.doctor(db_session, presence="online")
    response = await client.post(
        "/api/v1/online-care/start",
        json={"institution_id": str(doctor.institution_id)},
        headers=await headers(db_session, settings, account),
    )
    assert response.status_code == 409 and response.json()["code"] == "entitlement_expired"
    with pytest.raises(Conflict) as refused:
        await entitlement_service.ensure_may_prescribe(
            db_session, patient.id, expired.disease_id, city_date()
        )
    assert refused.value.code == "entitlement_expired"


async def test_the_engine_picks_the_fitting_doctor_and_stores_why(client, db_session, settings):
    account, _patient = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    await builders.doctor(db_session, ("M03900",), presence="online", institution=hospital)
    _, diabetes_here = await builders.doctor(
        db_session, ("M01600",), presence="online", institution=hospital
    )
    await builders.doctor(db_session, ("M01600",), presence="online")  # another institution
    body = await start(client, await headers(db_session, settings, account), hospital.id)
    assert body["created"] is True
    assert body["relationship"]["doctor_id"] == str(diabetes_here.id)
    assert body["relationship"]["kind"] == "primary"
    decision = body["decision"]
    chosen = decision["breakdown"]["chosen"]
    assert decision["candidates_considered"] == 2  # the hypertension doctor is not a candidate
    assert chosen["doctor_id"] == str(diabetes_here.id)
    factors = chosen["factors"]
    assert set(factors) == {"specialty", "continuity", "institution", "load", "presence", "course"}
    assert factors["institution"]["value"] == 1.0 and factors["specialty"]["value"] == 1.0
    for factor in factors.values():
        assert factor["points"] == pytest.approx(factor["value"] * factor["weight"], abs=1e-3)
    assert decision["total_score"] == pytest.approx(sum(f["points"] for f in factors.values()))
    runner_up = decision["breakdown"]["runners_up"][0]
    assert runner_up["factors"]["institution"]["value"] == 0.0
    stored = await client.get(
        f"/api/v1/online-care/decisions/{decision['id']}",
        headers=await headers(db_session, settings, account),
    )
    assert stored.json()["breakdown"] == decision["breakdown"]


async def test_starting_again_returns_the_same_doctor(client, db_session, settings):
    account, _patient = await builders.patient(db_session, "M01603")
    _, doctor = await builders.doctor(db_session, presence="online")
    h = await headers(db_session, settings, account)
    first = await start(client, h, doctor.institution_id)
    second = await start(client, h, doctor.institution_id)
    assert second["created"] is False
    assert second["relationship"]["id"] == first["relationship"]["id"]


async def test_continuity_brings_back_the_previous_doctor(client, db_session, settings):
    account, patient = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    _, previous = await builders.doctor(db_session, presence="online", institution=hospital)
    await builders.doctor(db_session, presence="online", institution=hospital)
    await builders.doctor(db_session, presence="online", institution=hospital)
    ended = await factories.care(db_session, patient, previous, ended=True)
    assert ended.kind == "primary"
    body = await start(client, await headers(db_session, settings, account), hospital.id)
    assert body["relationship"]["doctor_id"] == str(previous.id)
    assert body["decision"]["breakdown"]["chosen"]["factors"]["continuity"]["value"] == 1.0


async def test_a_full_doctor_is_passed_over_and_no_room_at_all_is_refused(
    client, db_session, settings
):
    hospital = await factories.institution(db_session)
    _, small = await builders.doctor(
        db_session, capacity=1, presence="online", institution=hospital
    )
    first_account, _ = await builders.patient(db_session, "M01603")
    second_account, _ = await builders.patient(db_session, "M01603")
    first = await start(client, await headers(db_session, settings, first_account), hospital.id)
    assert first["relationship"]["doctor_id"] == str(small.id)
    refused = await client.post(
        "/api/v1/online-care/start",
        json={"institution_id": str(hospital.id)},
        headers=await headers(db_session, settings, second_account),
    )
    assert refused.status_code == 409 and refused.json()["code"] == "no_doctor_available"


async def test_urgent_patients_weigh_presence_more(client, db_session, settings, monkeypatch):
    account, _patient = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    _, offline_here = await builders.doctor(db_session, institution=hospital)
    _, online_elsewhere = await builders.doctor(db_session, presence="online")

    async def urgent(session, patient_ids):
        return {p: Urgency(3, 2, ("glucose_urgent_low",)) for p in patient_ids}

    monkeypatch.setattr(engine, "urgency_by_patient", urgent)
    body = await start(client, await headers(db_session, settings, account), hospital.id)
    # Calm, the chosen institution (1.5) would beat presence (1.0); urgent, presence counts x4.
    assert body["relationship"]["doctor_id"] == str(online_elsewhere.id)
    breakdown = body["decision"]["breakdown"]
    assert breakdown["urgency"] == {
        "level": 3,
        "open_alerts": 2,
        "reasons": ["glucose_urgent_low"],
    }
    assert breakdown["weights"]["presence"] == settings.assignment_weight_presence * 4
    assert offline_here.id != online_elsewhere.id


async def _in_online_care(client, db_session, settings):
    """A patient in a hospital's online care, with a second doctor free there: (the patient's
    headers, the hospital, the start's answer)."""
    account, _patient = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    await builders.doctor(db_session, presence="online", institution=hospital)
    await builders.doctor(db_session, presence="online", institution=hospital)
    h = await headers(db_session, settings, account)
    first = await start(client, h, hospital.id)
    return h, hospital, first


async def test_a_patient_may_ask_for_a_different_doctor(client, db_session, settings):
    h, hospital, first = await _in_online_care(client, db_session, settings)
    leaving = {
        "reason": "prefer a female doctor",
        "from_relationship_id": first["relationship"]["id"],
    }
    changed = await client.post("/api/v1/online-care/change-doctor", json=leaving, headers=h)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["relationship"]["doctor_id"] != first["relationship"]["doctor_id"]
    assert body["decision"]["purpose"] == "change_doctor"
    old = await db_session.get(CareRelationship, uuid.UUID(first["relationship"]["id"]))
    await db_session.refresh(old)
    assert old.ended_at is not None and old.ended_reason == "changed_doctor"
    # The same request again (a second press, a retry after a lost answer) leaves a
    # relationship that has ended: refused, and the patient keeps the doctor just given.
    again = await client.post("/api/v1/online-care/change-doctor", json=leaving, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "doctor_changed_meanwhile"
    current = await start(client, h, hospital.id)
    assert current["relationship"]["id"] == body["relationship"]["id"]


async def test_changing_doctor_names_the_relationship_it_leaves(client, db_session, settings):
    h, hospital, first = await _in_online_care(client, db_session, settings)
    unnamed = await client.post(
        "/api/v1/online-care/change-doctor", json={"reason": "x"}, headers=h
    )
    assert unnamed.status_code == 422 and unnamed.json()["code"] == "validation_failed"
    someone_elses = await client.post(
        "/api/v1/online-care/change-doctor",
        json={"reason": "x", "from_relationship_id": str(uuid.uuid4())},
        headers=h,
    )
    assert someone_elses.status_code == 409
    assert someone_elses.json()["code"] == "doctor_changed_meanwhile"
    unchanged = await start(client, h, hospital.id)
    assert unchanged["relationship"]["id"] == first["relationship"]["id"]


async def test_changing_doctor_to_an_unknown_institution_is_404(client, db_session, settings):
    h, _, first = await _in_online_care(client, db_session, settings)
    changed = await client.post(
        "/api/v1/online-care/change-doctor",
        json={
            "reason": "x",
            "institution_id": str(uuid.uuid4()),
            "from_relationship_id": first["relationship"]["id"],
        },
        headers=h,
    )
    assert changed.status_code == 404 and changed.json()["code"] == "institution_not_found"


async def test_changing_doctor_without_one_is_refused(client, db_session, settings):
    account, _ = await builders.patient(db_session, "M01603")
    response = await client.post(
        "/api/v1/online-care/change-doctor",
        json={"reason": "x", "from_relationship_id": str(uuid.uuid4())},
        headers=await headers(db_session, settings, account),
    )
    assert response.status_code == 409 and response.json()["code"] == "no_current_doctor"


async def test_the_receiving_doctor_transfers_a_patient_to_a_named_colleague(
    client, db_session, settings
):
    _, patient = await builders.patient(db_session, "M01603")
    doctor_account, doctor = await builders.doctor(db_session, presence="online")
    _, colleague = await builders.doctor(db_session, presence="online")
    await factories.care(db_session, patient, doctor)
    response = await client.post(
        "/api/v1/online-care/transfers",
        json={
            "patient_id": str(patient.id),
            "to_doctor_id": str(colleague.id),
            "reason": "nephrology",
        },
        headers=await headers(db_session, settings, doctor_account),
    )
    assert response.status_code == 200, response.text
    assert response.json()["relationship"]["doctor_id"] == str(colleague.id)
    active = (
        await db_session.scalars(
            select(CareRelationship).where(
                CareRelationship.patient_id == patient.id, CareRelationship.ended_at.is_(None)
            )
        )
    ).all()
    assert [r.doctor_id for r in active] == [colleague.id]


async def test_only_the_receiving_doctor_may_transfer(client, db_session, settings):
    _, patient = await builders.patient(db_session, "M01603")
    _, primary = await builders.doctor(db_session)
    team_account, team_doctor = await builders.doctor(db_session)
    await factories.care(db_session, patient, primary)
    team = CareRelationship(
        patient_id=patient.id,
        doctor_id=team_doctor.id,
        institution_id=team_doctor.institution_id,
        kind="team",
        started_at=primary.created_at,
    )
    db_session.add(team)
    await db_session.flush()
    response = await client.post(
        "/api/v1/online-care/transfers",
        json={"patient_id": str(patient.id), "reason": "x"},
        headers=await headers(db_session, settings, team_account),
    )
    assert response.status_code == 409 and response.json()["code"] == "not_primary_doctor"


async def test_a_doctor_cannot_transfer_a_stranger(client, db_session, settings):
    _, patient = await builders.patient(db_session, "M01603")
    doctor_account, _ = await builders.doctor(db_session)
    response = await client.post(
        "/api/v1/online-care/transfers",
        json={"patient_id": str(patient.id), "reason": "x"},
        headers=await headers(db_session, settings, doctor_account),
    )
    assert response.status_code == 404
