"""Cash and card taken by the courier at the door; the patient's bill and receipts."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.models import LedgerEntry, Role
from tests.fixtures import factories


def _url(delivery, tail: str) -> str:
    return f"/api/v1/payments/settlements/{delivery.settlement.id}/{tail}"


async def test_courier_records_cash_and_the_bill_is_paid(client, db_session, delivery) -> None:
    body = {"method": "cash", "amount_fen": 16_000, "collection_id": str(uuid.uuid4())}
    response = await client.post(
        _url(delivery, "hand-over"), json=body, headers=delivery.courier_headers
    )
    assert response.status_code == 201, response.text
    bill = (await client.get(_url(delivery, "bill"), headers=delivery.patient_headers)).json()
    assert (bill["due_fen"], bill["collected_fen"], bill["outstanding_fen"]) == (16_000, 16_000, 0)
    assert bill["settlement"]["items"][0]["quantity"] == 15
    total = await db_session.scalar(
        select(func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.patient_id == delivery.patient.id
        )
    )
    assert total == 0


async def test_split_payment_by_card_and_cash(client, delivery) -> None:
    for method, amount in (("card", 10_000), ("cash", 6_000)):
        body = {"method": method, "amount_fen": amount, "collection_id": str(uuid.uuid4())}
        response = await client.post(
            _url(delivery, "hand-over"), json=body, headers=delivery.courier_headers
        )
        assert response.status_code == 201
    receipts = (
        await client.get("/api/v1/payments/receipts", headers=delivery.patient_headers)
    ).json()
    assert sorted(r["amount_fen"] for r in receipts["items"]) == [6_000, 10_000]


async def test_retried_hand_over_records_one_payment(client, delivery) -> None:
    body = {"method": "cash", "amount_fen": 16_000, "collection_id": str(uuid.uuid4())}
    first = await client.post(
        _url(delivery, "hand-over"), json=body, headers=delivery.courier_headers
    )
    again = await client.post(
        _url(delivery, "hand-over"), json=body, headers=delivery.courier_headers
    )
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


async def test_collecting_more_than_is_due_is_refused(client, delivery) -> None:
    body = {"method": "cash", "amount_fen": 16_001, "collection_id": str(uuid.uuid4())}
    response = await client.post(
        _url(delivery, "hand-over"), json=body, headers=delivery.courier_headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "payment_exceeds_due"


async def test_courier_of_another_store_cannot_see_the_settlement(
    client, db_session, settings, delivery
) -> None:
    stranger = await factories.account(db_session, Role.courier)
    headers = await factories.bearer(db_session, settings, stranger)
    body = {"method": "cash", "amount_fen": 100, "collection_id": str(uuid.uuid4())}
    response = await client.post(_url(delivery, "hand-over"), json=body, headers=headers)
    assert response.status_code == 404


async def test_another_patient_cannot_read_the_bill(client, db_session, settings, delivery) -> None:
    other = await factories.account(db_session, Role.patient)
    headers = await factories.bearer(db_session, settings, other)
    assert (await client.get(_url(delivery, "bill"), headers=headers)).status_code == 404
