"""Declaring an insured identity: no oracle for ID numbers another patient holds (the answer is
the same, the conflict goes to staff review), a per-patient rate limit, idempotent retries."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import AuditEvent, IdentityDeclaration, Role
from tests.fixtures import factories

DECLARE = "/api/v1/patients/me/identity/declarations"
REVIEWS = "/api/v1/identity/reviews"


async def _patient(db_session, settings):
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    return patient, await factories.bearer(db_session, settings, account)


def _body(national_id: str, insurance_type: str = "390") -> dict:
    return {"national_id": national_id, "insurance_type": insurance_type, "insured_area": "140300"}


def _shape(response) -> tuple:
    """Everything about an answer that is not unique to it (ids, times, request ids)."""
    body = response.json()
    varying = {"date", "content-length", "x-request-id"}
    return (
        response.status_code,
        sorted(body),
        body["status"],
        sorted(name for name in response.headers if name.lower() not in varying),
        response.headers["content-type"],
    )


async def test_declaring_a_number_another_patient_holds_answers_like_a_fresh_one(
    client, db_session, settings
) -> None:
    holder, _ = await _patient(db_session, settings)
    taken = factories.resident_id()
    await factories.insured(db_session, holder, insurance_type="390", national_id=taken)
    prober, prober_h = await _patient(db_session, settings)
    other, other_h = await _patient(db_session, settings)

    on_taken = await client.post(DECLARE, json=_body(taken), headers=prober_h)
    on_fresh = await client.post(DECLARE, json=_body(factories.resident_id()), headers=other_h)

    assert on_taken.status_code == 202, on_taken.text
    assert _shape(on_taken) == _shape(on_fresh)
    assert on_taken.json()["status"] == "received"
    # The conflict is routed to staff review, not to the patient.
    flagged = await db_session.scalar(
        select(IdentityDeclaration).where(IdentityDeclaration.patient_id == prober.id)
    )
    fresh = await db_session.scalar(
        select(IdentityDeclaration).where(IdentityDeclaration.patient_id == other.id)
    )
    assert flagged is not None and flagged.needs_review is True
    assert fresh is not None and fresh.needs_review is False
    # Nor does the patient's own identity view tell them anything about the other holder.
    mine = (await client.get("/api/v1/patients/me/identity", headers=prober_h)).json()
    assert mine["verified"] is None and mine["differences"] is None
    assert mine["declared"]["national_id"] == taken


async def test_staff_see_the_declarations_that_need_review(client, db_session, settings) -> None:
    holder, _ = await _patient(db_session, settings)
    taken = factories.resident_id()
    await factories.insured(db_session, holder, insurance_type="390", national_id=taken)
    prober, prober_h = await _patient(db_session, settings)
    assert (await client.post(DECLARE, json=_body(taken), headers=prober_h)).status_code == 202
    clerk = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    page = await client.get(REVIEWS, headers=clerk)
    assert page.status_code == 200, page.text
    [item] = [i for i in page.json()["items"] if i["patient_id"] == str(prober.id)]
    assert item["declared"]["national_id"] == taken
    read = await db_session.scalar(
        select(func.count()).where(
            AuditEvent.patient_id == prober.id,
            AuditEvent.resource_type == "identity_declaration",
            AuditEvent.action == "read",
            AuditEvent.actor_role == "bureau",
        )
    )
    assert read == 1


async def test_the_declaration_after_the_limit_is_429_with_retry_after(
    client, db_session, settings
) -> None:
    patient, headers = await _patient(db_session, settings)
    limit = settings.identity_declarations_per_window
    for _ in range(limit):
        answer = await client.post(DECLARE, json=_body(factories.resident_id()), headers=headers)
        assert answer.status_code == 202, answer.text
    refused = await client.post(DECLARE, json=_body(factories.resident_id()), headers=headers)
    assert refused.status_code == 429
    assert refused.json()["code"] == "identity_declarations_too_many"
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= settings.identity_declaration_window_seconds
    assert refused.json()["retry_after_seconds"] == wait
    stored = await db_session.scalar(
        select(func.count()).where(IdentityDeclaration.patient_id == patient.id)
    )
    assert stored == limit


async def test_a_retried_declaration_is_stored_once(client, db_session, settings) -> None:
    patient, headers = await _patient(db_session, settings)
    body = _body(factories.resident_id())
    keyed = {**headers, "Idempotency-Key": "declare-once"}
    first = await client.post(DECLARE, json=body, headers=keyed)
    again = await client.post(DECLARE, json=body, headers=keyed)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    stored = await db_session.scalar(
        select(func.count()).where(IdentityDeclaration.patient_id == patient.id)
    )
    assert stored == 1


async def test_only_patients_declare(client, db_session, settings) -> None:
    for role in (Role.doctor, Role.bureau, Role.pharmacist, Role.courier, Role.admin):
        headers = await factories.bearer(
            db_session, settings, await factories.account(db_session, role)
        )
        answer = await client.post(DECLARE, json=_body(factories.resident_id()), headers=headers)
        assert answer.status_code == 403, role


async def test_the_review_queue_pages_with_a_cursor(client, db_session, settings) -> None:
    holder, _ = await _patient(db_session, settings)
    taken = factories.resident_id()
    await factories.insured(db_session, holder, insurance_type="390", national_id=taken)
    probers = []
    for _ in range(3):
        prober, prober_h = await _patient(db_session, settings)
        assert (await client.post(DECLARE, json=_body(taken), headers=prober_h)).status_code == 202
        probers.append(str(prober.id))
    clerk = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(REVIEWS, params=params, headers=clerk)).json()
        assert len(page["items"]) <= 2
        seen += [i["patient_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    # Each declaration once, newest first.
    assert [p for p in seen if p in probers] == probers[::-1]
    assert len(seen) == len(set(seen))
