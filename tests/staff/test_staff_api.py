"""Staff administration over the API: creating each kind of staff member where they work,
suspension that stops issued tokens, reinstatement, explicit audited moves."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.models import Account, AuditEvent, Doctor, PharmacyStaff, PrescriptionReviewer, Role
from tests.fixtures import factories


def doctor_body(institution_code: str, username: str = "dr.new") -> dict[str, object]:
    return {
        "role": "doctor",
        "username": username,
        "display_name": "新医生",
        "institution_code": institution_code,
        "department_zh": "内分泌科",
        "title_zh": "主治医师",
        "specialties": ["M01600"],
    }


async def _login(client, username: str, password: str):
    return await client.post(
        "/api/v1/auth/password-login", json={"username": username, "password": password}
    )


async def test_a_created_doctor_signs_in_with_the_generated_password(
    client, admin, hospital
) -> None:
    created = await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["workplace"]["code"] == hospital.code and body["doctor_id"]
    assert len(body["initial_password"]) >= 16
    signed_in = await _login(client, "dr.new", body["initial_password"])
    assert signed_in.status_code == 200


async def test_a_chosen_initial_password_is_not_echoed(client, admin, hospital) -> None:
    body = {**doctor_body(hospital.code), "initial_password": "Chosen-Passw0rd!"}
    created = await client.post("/api/v1/staff", headers=admin, json=body)
    assert created.json()["initial_password"] is None
    assert (await _login(client, "dr.new", "Chosen-Passw0rd!")).status_code == 200


async def test_a_pharmacist_at_an_institution_becomes_its_reviewer(
    client, admin, hospital, db_session
) -> None:
    body = {"role": "pharmacist", "username": "rx.new", "display_name": "审方药师",
            "institution_code": hospital.code}  # fmt: skip
    created = await client.post("/api/v1/staff", headers=admin, json=body)
    assert created.json()["is_prescription_reviewer"] is True
    row = await db_session.scalar(select(PrescriptionReviewer.institution_id))
    assert row == hospital.id


async def test_a_courier_is_placed_at_a_store(client, admin, store, db_session) -> None:
    body = {"role": "courier", "username": "courier.new", "display_name": "配送员",
            "store_code": store.code}  # fmt: skip
    created = await client.post("/api/v1/staff", headers=admin, json=body)
    assert created.status_code == 201
    account_id = uuid.UUID(created.json()["account_id"])
    placed = await db_session.scalar(
        select(PharmacyStaff.store_id).where(PharmacyStaff.account_id == account_id)
    )
    assert placed == store.id


async def test_a_username_in_use_is_409_whatever_its_case(client, admin, hospital) -> None:
    await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    again = await client.post(
        "/api/v1/staff", headers=admin, json=doctor_body(hospital.code, "DR.New")
    )
    assert again.status_code == 409
    assert again.json()["code"] == "staff_username_taken"


async def test_a_courier_at_an_institution_is_refused(client, admin, hospital) -> None:
    body = {"role": "courier", "username": "courier.x", "display_name": "配送员",
            "institution_code": hospital.code}  # fmt: skip
    refused = await client.post("/api/v1/staff", headers=admin, json=body)
    assert refused.status_code == 422 and refused.json()["code"] == "staff_workplace_invalid"


async def test_an_unknown_institution_is_404(client, admin) -> None:
    refused = await client.post("/api/v1/staff", headers=admin, json=doctor_body("H14030299999"))
    assert refused.status_code == 404
    assert refused.json()["code"] == "staff_institution_not_found"
    assert "H14030299999" in refused.json()["detail"]


async def test_a_doctor_without_a_department_is_refused(client, admin, hospital) -> None:
    body = {**doctor_body(hospital.code), "department_zh": None}
    refused = await client.post("/api/v1/staff", headers=admin, json=body)
    assert refused.status_code == 422
    assert refused.json()["code"] == "staff_doctor_profile_required"


async def test_only_admins_create_staff(client, db_session, settings, hospital) -> None:
    for role in (Role.doctor, Role.pharmacist, Role.courier, Role.bureau, Role.patient):
        account = await factories.account(db_session, role)
        headers = await factories.bearer(db_session, settings, account)
        refused = await client.post("/api/v1/staff", headers=headers, json=doctor_body("H1"))
        assert refused.status_code == 403, role


async def test_an_issued_token_is_refused_after_suspension(
    client, admin, db_session, settings
) -> None:
    account = await factories.account(db_session, Role.courier)
    token = await factories.bearer(db_session, settings, account)
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 200
    suspended = await client.post(
        f"/api/v1/staff/{account.id}/suspend", headers=admin, json={"reason": "离职"}
    )
    assert suspended.status_code == 200 and suspended.json()["is_active"] is False
    refused = await client.get("/api/v1/auth/me", headers=token)
    assert refused.status_code == 401


async def test_a_suspended_account_cannot_sign_in(client, admin, db_session) -> None:
    account = await factories.account(db_session, Role.pharmacist)
    await client.post(f"/api/v1/staff/{account.id}/suspend", headers=admin, json={"reason": "x"})
    refused = await _login(client, account.username, factories.PASSWORD)
    assert refused.status_code == 401


async def test_reinstating_lets_the_account_sign_in_but_revives_no_old_token(
    client, admin, db_session, settings
) -> None:
    account = await factories.account(db_session, Role.courier)
    token = await factories.bearer(db_session, settings, account)
    url = f"/api/v1/staff/{account.id}"
    await client.post(f"{url}/suspend", headers=admin, json={"reason": "调查"})
    reinstated = await client.post(f"{url}/reinstate", headers=admin, json={"reason": "复职"})
    assert reinstated.json()["is_active"] is True
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401
    assert (await _login(client, account.username, factories.PASSWORD)).status_code == 200


async def test_suspending_twice_is_409(client, admin, db_session) -> None:
    account = await factories.account(db_session, Role.courier)
    url = f"/api/v1/staff/{account.id}/suspend"
    await client.post(url, headers=admin, json={"reason": "x"})
    again = await client.post(url, headers=admin, json={"reason": "x"})
    assert again.status_code == 409 and again.json()["code"] == "staff_already_suspended"


async def test_a_patient_account_is_not_staff(client, admin, db_session) -> None:
    account = await factories.account(db_session, Role.patient)
    refused = await client.post(
        f"/api/v1/staff/{account.id}/suspend", headers=admin, json={"reason": "x"}
    )
    assert refused.status_code == 404


async def test_a_move_is_explicit_and_audited_with_from_and_to(
    client, admin, hospital, other_hospital, db_session
) -> None:
    created = await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    account_id = uuid.UUID(created.json()["account_id"])
    moved = await client.post(
        f"/api/v1/staff/{account_id}/move",
        headers=admin,
        json={"institution_code": other_hospital.code, "reason": "支援县医院"},
    )
    assert moved.status_code == 200 and moved.json()["workplace"]["id"] == str(other_hospital.id)
    doctor_at = await db_session.scalar(
        select(Doctor.institution_id).where(Doctor.account_id == account_id)
    )
    assert doctor_at == other_hospital.id
    url = f"/api/v1/staff/{account_id}/history"
    history = (await client.get(url, headers=admin)).json()["items"]
    assert [e["action"] for e in history] == ["create", "move"]
    assert history[1]["detail"]["from"]["code"] == hospital.code
    assert history[1]["detail"]["to"]["code"] == other_hospital.code
    assert history[1]["detail"]["reason"] == "支援县医院"


async def test_a_doctor_cannot_be_moved_to_a_store(client, admin, hospital, store) -> None:
    created = await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    refused = await client.post(
        f"/api/v1/staff/{created.json()['account_id']}/move",
        headers=admin,
        json={"store_code": store.code, "reason": "x"},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "staff_move_changes_kind"


async def test_a_move_to_where_they_are_is_409(client, admin, hospital) -> None:
    created = await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    refused = await client.post(
        f"/api/v1/staff/{created.json()['account_id']}/move",
        headers=admin,
        json={"institution_code": hospital.code, "reason": "x"},
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "staff_move_same_workplace"


async def test_each_refusal_answers_with_its_own_status(client, admin, db_session) -> None:
    # A refusal by the accounts as they are is 409, a place that does not exist 404.
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    own = await client.post(
        f"/api/v1/staff/{me['id']}/suspend", headers=admin, json={"reason": "x"}
    )
    assert (own.status_code, own.json()["code"]) == (409, "staff_cannot_suspend_self")
    courier = await factories.account(db_session, Role.courier)
    url = f"/api/v1/staff/{courier.id}"
    active = await client.post(f"{url}/reinstate", headers=admin, json={"reason": "x"})
    assert (active.status_code, active.json()["code"]) == (409, "staff_not_suspended")
    nowhere = await client.post(
        f"{url}/move", headers=admin, json={"store_code": "NO-SUCH-STORE", "reason": "x"}
    )
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "staff_store_not_found")
    assert "NO-SUCH-STORE" in nowhere.json()["detail"]


async def test_registering_a_reviewer_elsewhere_does_not_move_them(
    client, admin, hospital, other_hospital, db_session
) -> None:
    body = {"role": "pharmacist", "username": "rx.qian2", "display_name": "审方药师",
            "institution_code": hospital.code}  # fmt: skip
    created = await client.post("/api/v1/staff", headers=admin, json=body)
    account_id = created.json()["account_id"]
    same = {"account_id": account_id, "institution_id": str(hospital.id)}
    again = await client.post("/api/v1/prescription-reviewers", headers=admin, json=same)
    assert again.status_code == 200
    elsewhere = {**same, "institution_id": str(other_hospital.id)}
    refused = await client.post("/api/v1/prescription-reviewers", headers=admin, json=elsewhere)
    assert refused.status_code == 409
    assert refused.json()["code"] == "reviewer_at_other_institution"
    reviews_for = await db_session.scalar(
        select(PrescriptionReviewer.institution_id).where(
            PrescriptionReviewer.account_id == uuid.UUID(account_id)
        )
    )
    assert reviews_for == hospital.id


async def test_creating_is_audited(client, admin, hospital, db_session) -> None:
    created = await client.post("/api/v1/staff", headers=admin, json=doctor_body(hospital.code))
    count = await db_session.scalar(
        select(func.count()).where(
            AuditEvent.resource_id == created.json()["account_id"], AuditEvent.action == "create"
        )
    )
    assert count == 1
    assert await db_session.scalar(select(func.count()).select_from(Account).where(
        Account.username == "dr.new")) == 1  # fmt: skip


async def test_a_password_reset_gives_a_new_password_and_ends_old_tokens(
    client, admin, db_session, settings
) -> None:
    account = await factories.account(db_session, Role.pharmacist)
    token = await factories.bearer(db_session, settings, account)
    reset = await client.post(f"/api/v1/staff/{account.id}/password-reset", headers=admin)
    assert reset.status_code == 200
    password = reset.json()["initial_password"]
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401
    assert (await _login(client, account.username, factories.PASSWORD)).status_code == 401
    assert (await _login(client, account.username, password)).status_code == 200
