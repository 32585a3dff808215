"""Insurance endpoints: rules, the patient's quote, flags, statements, export, reconciliation."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime

from app.authz.principal import Principal
from app.insurance import settlement as settlement_service
from app.kit.clock import frozen_at
from app.models import Account, Role
from app.payment import service as payment_service
from app.payment.schemas import HandOverPayment
from tests.fixtures import factories
from tests.insurance import world as w

APRIL = datetime(w.YEAR, 4, 2, 1, tzinfo=UTC)


async def _headers(db_session, settings, role: Role) -> dict[str, str]:
    return await factories.bearer(db_session, settings, await factories.account(db_session, role))


async def test_bureau_publishes_a_rule_version_and_cannot_backdate(
    client, db_session, settings
) -> None:
    world = await w.build(db_session)
    body = {
        "insurance_type": "310",
        "disease_id": str(world.disease.id),
        "institution_level": "tertiary",
        "year": w.YEAR,
        "effective_from": "2026-06-01",
        "deductible_fen": 20_000,
        "reimbursement_bp": 8_500,
        "partial_prepay_bp": 1_000,
    }
    with frozen_at(datetime(w.YEAR, 5, 20, tzinfo=UTC)):
        # Signed in within the moved clock, as tokens are judged by the service's clock.
        headers = await _headers(db_session, settings, Role.bureau)
        created = await client.post("/api/v1/insurance/benefit-rules", json=body, headers=headers)
        backdated = await client.post(
            "/api/v1/insurance/benefit-rules",
            json={**body, "effective_from": "2026-05-01"},
            headers=headers,
        )
    assert created.status_code == 201 and created.json()["version"] == 2
    assert backdated.status_code == 409 and backdated.json()["code"] == "benefit_rule_in_past"


async def test_patient_sees_their_quote_and_settlement(client, db_session, settings) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    claim = w.claim(world, patient, [(world.full, 15)])
    await settlement_service.presettle(db_session, claim)
    row = await settlement_service.settle(db_session, claim, w.message_id())
    account = await db_session.get(Account, patient.account_id)
    headers = await factories.bearer(db_session, settings, account)
    quote = await client.get(f"/api/v1/insurance/orders/{claim.order_id}/quote", headers=headers)
    assert quote.json()["fund_fen"] == 14_000 and quote.json()["cash_fen"] == 16_000
    detail = await client.get(f"/api/v1/insurance/settlements/{row.id}", headers=headers)
    assert detail.json()["items"][0]["amount_fen"] == 30_000
    listed = await client.get("/api/v1/insurance/settlements", headers=headers)
    assert [s["id"] for s in listed.json()["items"]] == [str(row.id)]


async def test_family_doctor_flags_own_patients_settlement_and_bureau_lists_it(
    client, db_session, settings
) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    doctor_account = await factories.account(db_session, Role.doctor)
    await factories.care(db_session, patient, await factories.doctor_of(db_session, doctor_account))
    doctor = await factories.bearer(db_session, settings, doctor_account)
    stranger = await _headers(db_session, settings, Role.doctor)
    url = f"/api/v1/insurance/settlements/{row.id}/flags"
    first = await client.post(url, json={"reason": "剂量超出处方"}, headers=doctor)
    again = await client.post(url, json={"reason": "重复提交"}, headers=doctor)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert (await client.post(url, json={"reason": "看看"}, headers=stranger)).status_code == 404
    bureau = await _headers(db_session, settings, Role.bureau)
    flagged = (await client.get("/api/v1/insurance/flags", headers=bureau)).json()["items"]
    assert [f["settlement"]["id"] for f in flagged if f["flag"]["id"] == first.json()["id"]] == [
        str(row.id)
    ]


async def test_statement_of_an_open_month_is_refused(client, db_session, settings) -> None:
    world = await w.build(db_session)
    with frozen_at(datetime(w.YEAR, 3, 31, 15, 59, tzinfo=UTC)):  # 23:59 in Shanghai
        headers = await _headers(db_session, settings, Role.bureau)
        response = await client.post(
            "/api/v1/insurance/statements",
            json={"institution_id": str(world.institution.id), "month": "2026-03"},
            headers=headers,
        )
    assert response.status_code == 409 and response.json()["code"] == "statement_month_open"


async def test_statement_export_confirmation_payment_and_reconciliation(
    client, db_session, settings
) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    with frozen_at(w.MARCH):
        paid = await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 15)]), w.message_id()
        )
        unpaid = await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.partial, 2)]), w.message_id()
        )
    courier = await factories.account(db_session, Role.courier)
    principal = Principal(courier.id, uuid.uuid4(), Role.courier, "courier")
    await payment_service.record_hand_over(
        db_session,
        principal,
        paid,
        HandOverPayment(method="card", amount_fen=paid.cash_fen, collection_id=uuid.uuid4()),
    )
    with frozen_at(APRIL):
        headers = await _headers(db_session, settings, Role.bureau)
        created = await client.post(
            "/api/v1/insurance/statements",
            json={"institution_id": str(world.institution.id), "month": "2026-03"},
            headers=headers,
        )
    statement = created.json()
    assert statement["fund_fen"] == paid.fund_fen + unpaid.fund_fen
    assert statement["breakdown"][0]["settlement_count"] == 2
    sid = statement["id"]
    headers = await _headers(db_session, settings, Role.bureau)  # back in the present
    exported = await client.get(f"/api/v1/insurance/statements/{sid}/export.csv", headers=headers)
    rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert rows[0][0] == "settled_at" and len(rows) == 4
    assert int(rows[-1][11]) == statement["fund_fen"]
    detail = await client.get(f"/api/v1/insurance/statements/{sid}", headers=headers)
    assert len(detail.json()["lines"]) == 2
    early = await client.post(
        f"/api/v1/insurance/statements/{sid}/payment",
        json={"amount_fen": 1, "reference": "X", "paid_on": "2026-04-10"},
        headers=headers,
    )
    assert early.status_code == 409
    await client.post(f"/api/v1/insurance/statements/{sid}/confirm", headers=headers)
    short = statement["payable_fen"] - 100
    await client.post(
        f"/api/v1/insurance/statements/{sid}/payment",
        json={"amount_fen": short, "reference": "YB-1", "paid_on": "2026-04-10"},
        headers=headers,
    )
    report = (
        await client.get(f"/api/v1/insurance/statements/{sid}/reconciliation", headers=headers)
    ).json()
    kinds = sorted((d["kind"], d["difference_fen"]) for d in report["differences"])
    assert report["agrees"] is False
    assert kinds == [("personal_share_unpaid", -unpaid.cash_fen), ("remittance", -100)]
