"""The money of a statement: the bureau's payment is booked once (a different body is 409), a
negative payable is carried into a later statement or recovered, and the bureau corrects
ledger mistakes with reversing entries that reconciliation lists - never an UPDATE."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.insurance import statements as statement_service
from app.kit.clock import frozen_at
from app.ledger import posting
from app.models import LedgerEntry, Role, Settlement
from app.models.insurance_statement import STATEMENT_STATUSES
from tests.fixtures import factories
from tests.insurance.months import (
    APRIL,
    APRIL_2,
    APRIL_10,
    JUNE_2,
    MARCH,
    MARCH_10,
    MAY,
    MAY_2,
    STATEMENTS,
    Office,
    office,
    payable,
)

CORRECTIONS = "/api/v1/insurance/ledger/corrections"


async def _remittance_transactions(o: Office, statement: dict[str, Any]) -> int:
    return await o.session.scalar(
        select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
            LedgerEntry.statement_id == uuid.UUID(statement["id"]),
            LedgerEntry.kind == "remittance",
        )
    )


async def _paid_march(o: Office) -> tuple[dict[str, Any], Settlement]:
    settled = await o.settle(MARCH_10)
    march = await o.confirm(APRIL_2, await o.statement(APRIL_2, MARCH))
    assert (await o.pay(APRIL_10, march)).status_code == 200
    return march, settled


async def test_a_repeated_payment_is_booked_once_and_another_body_is_409(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    march, _ = await _paid_march(o)
    again = await o.pay(APRIL_10, march)
    other = await o.pay(APRIL_10, march, march["payable_fen"] + 1)
    assert again.status_code == 200 and again.json()["paid_fen"] == march["payable_fen"]
    assert other.status_code == 409 and other.json()["code"] == "statement_already_paid"
    assert await _remittance_transactions(o, march) == 1


async def test_a_month_of_only_a_late_reversal_is_carried_into_the_next_statement(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    _, settled = await _paid_march(o)
    await o.reverse(APRIL_10, settled)  # April holds nothing but this reversal
    april = await o.confirm(MAY_2, await o.statement(MAY_2, APRIL))
    assert april["payable_fen"] == -payable(settled)
    refused = await o.pay(MAY_2, april, 0)
    assert refused.status_code == 409 and refused.json()["code"] == "statement_payable_negative"
    await o.settle(MAY_2, quantity=40)
    may = await o.statement(JUNE_2, MAY)
    assert may["carried_in_fen"] == -payable(settled)
    assert may["payable_fen"] == may["fund_fen"] + may["account_fen"] - payable(settled)
    carried = await o.reconcile(JUNE_2, april)
    assert (carried["status"], carried["agrees"]) == ("carried", True)
    assert carried["carried_out"]["statement_id"] == may["id"]
    [carried_in] = (await o.detail(JUNE_2, may))["carried_in"]
    assert (carried_in["statement_id"], carried_in["amount_fen"]) == (
        april["id"],
        -payable(settled),
    )
    await o.confirm(JUNE_2, may)
    assert (await o.pay(JUNE_2, may)).status_code == 200
    paid = await o.reconcile(JUNE_2, may)
    assert paid["remitted_fen"] == may["payable_fen"]
    assert {d["kind"] for d in paid["differences"]} <= {"personal_share_unpaid"}


async def test_a_negative_payable_is_settled_by_recording_the_recovery(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    _, settled = await _paid_march(o)
    await o.reverse(APRIL_10, settled)
    april = await o.confirm(MAY_2, await o.statement(MAY_2, APRIL))
    body = {"amount_fen": payable(settled), "reference": "TH-0502", "paid_on": "2026-05-02"}
    url = f"{STATEMENTS}/{april['id']}/recovery"
    recovered = await o.call(MAY_2, "POST", url, json=body)
    assert recovered.status_code == 200 and recovered.json()["status"] == "recovered"
    assert (await o.call(MAY_2, "POST", url, json=body)).status_code == 200
    other = await o.call(MAY_2, "POST", url, json={**body, "amount_fen": 1})
    assert other.status_code == 409
    report = await o.reconcile(MAY_2, april)
    assert report["agrees"] is True
    assert report["remitted_fen"] == -payable(settled) == report["payable_fen"]
    # The next statement no longer carries what was recovered.
    may = await o.statement(JUNE_2, MAY)
    assert may["carried_in_fen"] == 0


async def test_a_positive_payable_is_not_recovered(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    await o.settle(MARCH_10)
    march = await o.confirm(APRIL_2, await o.statement(APRIL_2, MARCH))
    response = await o.call(
        APRIL_2,
        "POST",
        f"{STATEMENTS}/{march['id']}/recovery",
        json={"amount_fen": 100, "reference": "TH-1", "paid_on": "2026-04-02"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "statement_payable_not_negative"


async def test_the_bureau_corrects_a_duplicate_remittance_with_a_reversing_entry(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    march, settled = await _paid_march(o)
    # A remittance booked twice, as concurrent requests did before the statement was locked.
    with frozen_at(APRIL_10):
        duplicate = await posting.post(
            db_session,
            "remittance",
            [
                posting.Posting(posting.Account.bureau_remittance, march["payable_fen"]),
                posting.Posting(posting.Account.fund_receivable, -march["payable_fen"]),
            ],
            posting.Refs(o.world.institution.id, statement_id=uuid.UUID(march["id"])),
        )
    before = await o.reconcile(APRIL_10, march)
    assert [(d["kind"], d["difference_fen"]) for d in before["differences"]] == [
        ("personal_share_unpaid", -settled.cash_fen),
        ("remittance", march["payable_fen"]),
    ]
    response = await o.call(
        APRIL_10,
        "POST",
        CORRECTIONS,
        json={"transaction_id": str(duplicate), "reason": "重复登记的拨付"},
    )
    assert response.status_code == 201, response.text
    correction = response.json()
    after = await o.reconcile(APRIL_10, march)
    assert [d["kind"] for d in after["differences"]] == ["personal_share_unpaid"]
    assert after["remitted_fen"] == march["payable_fen"]
    assert [(c["id"], c["reason"]) for c in after["corrections"]] == [
        (correction["id"], "重复登记的拨付")
    ]
    assert [(r["corrected"], r["is_correction"]) for r in after["remittances"]] == [
        (False, False),
        (True, False),
        (False, True),
    ]
    # The statement is still paid (one remittance stands), and nothing was rewritten.
    assert (await o.detail(APRIL_10, march))["status"] == "paid"
    entries = (
        await db_session.scalars(
            select(LedgerEntry.amount_fen).where(LedgerEntry.transaction_id == duplicate)
        )
    ).all()
    assert sorted(entries) == [-march["payable_fen"], march["payable_fen"]]


async def test_correcting_the_only_remittance_reopens_the_statement_for_the_right_one(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    await o.settle(MARCH_10)
    march = await o.confirm(APRIL_2, await o.statement(APRIL_2, MARCH))
    assert (await o.pay(APRIL_10, march, march["payable_fen"] // 10)).status_code == 200  # typo
    [wrong] = (await o.reconcile(APRIL_10, march))["remittances"]
    response = await o.call(
        APRIL_10,
        "POST",
        CORRECTIONS,
        json={"transaction_id": wrong["transaction_id"], "reason": "金额录入错误"},
    )
    assert response.status_code == 201
    reopened = await o.detail(APRIL_10, march)
    assert (reopened["status"], reopened["paid_fen"]) == ("confirmed", None)
    assert (await o.pay(APRIL_10, march)).status_code == 200
    report = await o.reconcile(APRIL_10, march)
    assert [d["kind"] for d in report["differences"]] == ["personal_share_unpaid"]
    assert report["remitted_fen"] == march["payable_fen"]


async def test_a_transaction_is_corrected_once_and_a_correction_is_not_corrected(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    march, _ = await _paid_march(o)
    [paid] = (await o.reconcile(APRIL_10, march))["remittances"]
    body = {"transaction_id": paid["transaction_id"], "reason": "测试"}
    first = await o.call(APRIL_10, "POST", CORRECTIONS, json=body)
    again = await o.call(APRIL_10, "POST", CORRECTIONS, json=body)
    assert again.status_code == 409
    assert again.json()["code"] == "ledger_transaction_already_corrected"
    of_correction = await o.call(
        APRIL_10,
        "POST",
        CORRECTIONS,
        json={"transaction_id": first.json()["correction_transaction_id"], "reason": "撤回冲正"},
    )
    assert of_correction.status_code == 409
    assert of_correction.json()["code"] == "ledger_correction_of_correction"


async def test_settlement_entries_are_not_corrected_but_reversed(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    row = await o.settle(MARCH_10)
    listed = await o.call(
        APRIL_2,
        "GET",
        "/api/v1/insurance/ledger/transactions",
        params={"settlement_id": str(row.id)},
    )
    [transaction] = listed.json()["items"]
    assert transaction["kind"] == "settlement"
    response = await o.call(
        APRIL_2,
        "POST",
        CORRECTIONS,
        json={"transaction_id": transaction["transaction_id"], "reason": "想撤销"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "ledger_correction_not_allowed"
    unknown = await o.call(
        APRIL_2,
        "POST",
        CORRECTIONS,
        json={"transaction_id": str(uuid.uuid4()), "reason": "无此事务"},
    )
    assert unknown.status_code == 404


async def test_only_the_bureau_corrects_the_ledger(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    march, _ = await _paid_march(o)
    [paid] = (await o.reconcile(APRIL_10, march))["remittances"]
    for role in (Role.patient, Role.doctor, Role.pharmacist, Role.courier, Role.admin):
        response = await o.call(
            APRIL_10,
            "POST",
            CORRECTIONS,
            who=await factories.account(db_session, role),
            json={"transaction_id": paid["transaction_id"], "reason": "越权"},
        )
        assert response.status_code == 403, (role, response.text)


async def test_the_ledger_refuses_to_rewrite_a_correction(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    march, _ = await _paid_march(o)
    [paid] = (await o.reconcile(APRIL_10, march))["remittances"]
    await o.call(
        APRIL_10,
        "POST",
        CORRECTIONS,
        json={"transaction_id": paid["transaction_id"], "reason": "x1"},
    )
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(text("UPDATE insurance_ledger_corrections SET reason = 'y'"))


def test_the_statement_machine_declares_every_status_the_table_admits() -> None:
    assert set(statement_service.TRANSITIONS) == set(STATEMENT_STATUSES)
