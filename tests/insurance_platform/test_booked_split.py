"""The platform's 2207 split is what is booked: where the platform settles a hand-over with
another split than the local rules estimated (its rules changed between order and hand-over),
the ledger, the quota, what the patient pays, the statement and its payable follow the
platform, the estimate is kept beside it, a reversal undoes the platform's amounts, and the
platform's flag for the bureau is audited as the platform's act and holds nothing."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.insurance_platform.client import HttpInsurancePlatform, PlatformResult
from app.kit.clock import city_date, frozen_at, to_shanghai
from app.kit.money import fen_to_yuan
from app.ledger.posting import Account
from app.models import (
    AuditEvent,
    InsuranceQuotaDisease,
    LedgerEntry,
    PaymentRefund,
    PlatformSettlement,
    Role,
    Settlement,
    SettlementFlag,
)
from tests.fixtures import factories
from tests.insurance_platform.conftest import behave, hand_over, received
from tests.prescription.world import World, ok, ordered, picked, quality_returned

ORDERS = "/api/v1/orders"
PAYMENTS = "/api/v1/payments/settlements"
STATEMENTS = "/api/v1/insurance/statements"
# The platform pays this much more of the fund share than the local rules estimate.
DELTA = 137


async def _handed_over_after_the_rules_changed(client, platform_http, world: World) -> dict:
    """An order quoted while the platform agreed with the local rules, handed over after its
    rules changed (the fake pays DELTA more from the fund)."""
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    await behave(platform_http, fund_delta_fen=DELTA)
    await ok(await hand_over(client, world, order))
    await behave(platform_http)
    return order


async def _booked(db_session, order: dict) -> tuple[Settlement, PlatformSettlement]:
    local = await db_session.scalar(
        select(Settlement).where(
            Settlement.order_id == uuid.UUID(order["id"]), Settlement.kind == "settlement"
        )
    )
    assert local is not None
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    assert kept is not None
    return local, kept


async def _ledger(db_session, settlement_ids: list[uuid.UUID]) -> dict[str, int]:
    """What the settlements (and reversals) booked, by account (payments left out)."""
    sums: dict[str, int] = defaultdict(int)
    for entry in await db_session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.settlement_id.in_(settlement_ids),
            LedgerEntry.kind.in_(("settlement", "reversal")),
        )
    ):
        sums[entry.account] += entry.amount_fen
    return dict(sums)


async def _paid_at_the_counter(client, world: World, local: Settlement, amount_fen: int) -> None:
    body = {"method": "cash", "amount_fen": amount_fen, "collection_id": str(uuid.uuid4())}
    url = f"{PAYMENTS}/{local.id}/hand-over"
    await ok(await client.post(url, json=body, headers=world.as_("courier")), 201)


async def _limit_used(db_session, local: Settlement) -> int:
    row = await db_session.scalar(
        select(InsuranceQuotaDisease).where(
            InsuranceQuotaDisease.patient_id == local.patient_id,
            InsuranceQuotaDisease.year == local.year,
            InsuranceQuotaDisease.disease_id == local.disease_id,
        )
    )
    assert row is not None
    await db_session.refresh(row)
    return row.limit_used_fen


async def test_the_platforms_split_is_booked_and_the_estimate_kept_beside_it(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _handed_over_after_the_rules_changed(client, platform_http, world)
    local, kept = await _booked(db_session, order)
    [fake] = list((await platform_http.get("/_control/settlements")).json())
    # The settlement books the platform's split ...
    assert (local.total_fen, local.fund_fen) == (kept.total_fen, kept.fund_fen)
    assert (local.account_fen, local.cash_fen) == (kept.account_fen, kept.cash_fen)
    assert local.fund_fen == fake["fund_fen"]
    assert local.personal_fen == local.account_fen + local.cash_fen
    # ... and the local rules' estimate stays beside it, with the difference.
    assert kept.estimate_fund_fen == local.fund_fen - DELTA
    assert kept.estimate_account_fen + kept.estimate_cash_fen == local.personal_fen + DELTA
    assert kept.fund_difference_fen == DELTA
    # Both are shown with the settlement.
    shown = await ok(
        await client.get(f"/api/v1/insurance/settlements/{local.id}", headers=world.as_("patient"))
    )
    assert (shown["fund_fen"], shown["cash_fen"]) == (kept.fund_fen, kept.cash_fen)
    assert shown["platform"] == {
        "setl_id": kept.setl_id,
        "estimate_fund_fen": kept.estimate_fund_fen,
        "estimate_account_fen": kept.estimate_account_fen,
        "estimate_cash_fen": kept.estimate_cash_fen,
        "fund_difference_fen": DELTA,
    }
    # The ledger and the quota hold the platform's amounts, nothing of the estimate.
    ledger = await _ledger(db_session, [local.id])
    assert ledger[Account.drug_supply] == -local.total_fen
    assert ledger[Account.fund_receivable] == kept.fund_fen
    assert ledger.get(Account.account_receivable, 0) == kept.account_fen
    assert ledger[Account.patient_receivable] == kept.cash_fen
    assert ledger[Account.limit_used] == kept.fund_fen
    assert await _limit_used(db_session, local) == kept.fund_fen


async def test_the_patient_pays_exactly_the_platforms_cash_share(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    quoted = (await ok(await client.get(url, headers=world.as_("pharmacist"))))["collect"]
    # Before hand-over the counter sees the platform's quote (2206).
    assert quoted["basis"] == "platform_presettlement"
    await behave(platform_http, fund_delta_fen=DELTA)
    await ok(await hand_over(client, world, order))
    local, kept = await _booked(db_session, order)
    assert kept.cash_fen == quoted["cash_fen"] - DELTA
    # After it, what the counter collects is the platform's settlement, not the quote.
    collect = (await ok(await client.get(url, headers=world.as_("pharmacist"))))["collect"]
    assert (collect["basis"], collect["fund_fen"], collect["cash_fen"]) == (
        "settlement",
        kept.fund_fen,
        kept.cash_fen,
    )
    bill_url = f"{PAYMENTS}/{local.id}/bill"
    bill = await ok(await client.get(bill_url, headers=world.as_("patient")))
    assert (bill["due_fen"], bill["outstanding_fen"]) == (kept.cash_fen, kept.cash_fen)
    # The quoted (estimated) cash share is more than is due: refused, nothing booked.
    pay = f"{PAYMENTS}/{local.id}/hand-over"
    too_much = {
        "method": "cash",
        "amount_fen": quoted["cash_fen"],
        "collection_id": str(uuid.uuid4()),
    }
    refused = await client.post(pay, json=too_much, headers=world.as_("courier"))
    assert refused.status_code == 409 and refused.json()["code"] == "payment_exceeds_due"
    exact = {"method": "cash", "amount_fen": kept.cash_fen, "collection_id": str(uuid.uuid4())}
    await ok(await client.post(pay, json=exact, headers=world.as_("courier")), 201)
    bill = await ok(await client.get(bill_url, headers=world.as_("patient")))
    assert (bill["collected_fen"], bill["outstanding_fen"]) == (kept.cash_fen, 0)


async def test_a_return_after_a_differing_split_reverses_the_platforms_amounts(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _handed_over_after_the_rules_changed(client, platform_http, world)
    local, kept = await _booked(db_session, order)
    await _paid_at_the_counter(client, world, local, kept.cash_fen)
    await quality_returned(client, world, order)
    reversal = await db_session.scalar(select(Settlement).where(Settlement.reverses_id == local.id))
    assert reversal is not None
    assert (reversal.fund_fen, reversal.cash_fen) == (-kept.fund_fen, -kept.cash_fen)
    undone = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == reversal.id)
    )
    assert undone is not None and undone.setl_id == kept.setl_id
    assert (undone.fund_fen, undone.cash_fen) == (-kept.fund_fen, -kept.cash_fen)
    assert undone.fund_difference_fen == 0
    [sent] = [m for m in await received(platform_http) if m["infno"] == "2208"]
    assert sent["input"]["data"]["setl_id"] == kept.setl_id
    # Every account of the claim is back at zero; the limit is given back in full.
    ledger = await _ledger(db_session, [local.id, reversal.id])
    assert {account: fen for account, fen in ledger.items() if fen} == {}
    assert await _limit_used(db_session, local) == 0
    # The patient is owed back what they paid: the platform's cash share.
    refunds = (
        await db_session.scalars(
            select(PaymentRefund).where(PaymentRefund.reversal_id == reversal.id)
        )
    ).all()
    assert [r.amount_fen for r in refunds] == [kept.cash_fen]


def _next_month() -> datetime:
    today = city_date()
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime(year, month, 2, 2, tzinfo=UTC)


async def test_the_statement_pays_the_platforms_split_and_reconciles_to_the_fen(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    order = await _handed_over_after_the_rules_changed(client, platform_http, world)
    local, kept = await _booked(db_session, order)
    await _paid_at_the_counter(client, world, local, kept.cash_fen)
    with frozen_at(_next_month()):
        clerk = await factories.bearer(
            db_session, settings, await factories.account(db_session, Role.bureau)
        )
        body = {
            "institution_id": str(local.institution_id),
            "month": f"{to_shanghai(local.settled_at):%Y-%m}",
        }
        statement = await ok(await client.post(STATEMENTS, json=body, headers=clerk), 201)
        found = await ok(
            await client.post(
                f"{STATEMENTS}/{statement['id']}/platform-reconciliation", headers=clerk
            )
        )
        checked = await ok(
            await client.get(f"{STATEMENTS}/{statement['id']}/reconciliation", headers=clerk)
        )
    # The platform's flag is open, yet the settlement is paid: the platform decided it.
    flag = await db_session.scalar(
        select(SettlementFlag).where(SettlementFlag.settlement_id == local.id)
    )
    assert flag is not None and flag.review_id is None
    assert (statement["fund_fen"], statement["cash_fen"]) == (kept.fund_fen, kept.cash_fen)
    assert statement["held_fen"] == 0
    assert statement["payable_fen"] == kept.fund_fen + kept.account_fen
    # Ledger = statement = the platform's totals (3201), to the fen.
    ledger = await _ledger(db_session, [local.id])
    assert ledger[Account.fund_receivable] == statement["fund_fen"]
    assert ledger[Account.patient_receivable] == statement["cash_fen"]
    assert -ledger[Account.drug_supply] == statement["total_fen"]
    [by_type] = [t for t in found["by_type"] if t["insurance_type"] == local.insurance_type]
    assert by_type["statement"] == by_type["platform"]
    assert by_type["balanced"] is True
    [sent] = [m for m in await received(platform_http) if m["msgid"] == by_type["msgid"]]
    assert sent["input"]["data"]["fund_pay_sumamt"] == fen_to_yuan(statement["fund_fen"])
    assert found["differences"] == [] and found["detail"]["balanced"] is True
    assert checked["agrees"] is True, checked["differences"]


async def test_a_reviewers_flag_still_holds_a_settlement_the_platform_flagged(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    order = await _handed_over_after_the_rules_changed(client, platform_http, world)
    local, kept = await _booked(db_session, order)
    await _paid_at_the_counter(client, world, local, kept.cash_fen)
    with frozen_at(_next_month()):
        clerk = await factories.bearer(
            db_session, settings, await factories.account(db_session, Role.bureau)
        )
        flagged = await client.post(
            f"/api/v1/insurance/settlements/{local.id}/flags",
            json={"reason": "用量异常，存疑"},
            headers=clerk,
        )
        await ok(flagged, 201)
        body = {
            "institution_id": str(local.institution_id),
            "month": f"{to_shanghai(local.settled_at):%Y-%m}",
        }
        statement = await ok(await client.post(STATEMENTS, json=body, headers=clerk), 201)
    assert statement["held_fen"] == kept.fund_fen + kept.account_fen
    assert statement["payable_fen"] == 0


async def test_the_platforms_flag_is_audited_as_the_platforms_act(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _handed_over_after_the_rules_changed(client, platform_http, world)
    local, _ = await _booked(db_session, order)
    flag = await db_session.scalar(
        select(SettlementFlag).where(SettlementFlag.settlement_id == local.id)
    )
    assert flag is not None
    [event] = (
        await db_session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "settlement_flag",
                AuditEvent.resource_id == str(flag.id),
            )
        )
    ).all()
    assert (event.actor_account_id, event.actor_role, event.actor_name) == (
        None,
        "platform",
        "医保信息平台",
    )
    assert (event.action, event.patient_id) == ("create", world.patient.id)


class _SplitOtherThanSent:
    """The platform, but its 2207 answers with a fund share one fen above what adds up."""

    def __init__(self, platform: HttpInsurancePlatform) -> None:
        self.platform = platform

    async def call(self, infno: str, data: dict[str, Any], **kwargs: Any) -> PlatformResult:
        result = await self.platform.call(infno, data, **kwargs)
        if infno == "2207":
            info = result.output["setlinfo"]
            info["fund_pay_sumamt"] = fen_to_yuan(round(float(info["fund_pay_sumamt"]) * 100) + 1)
        return result

    async def download(self, data: dict[str, Any], **kwargs: Any) -> bytes:
        return await self.platform.download(data, **kwargs)


async def test_a_split_that_does_not_add_up_is_taken_back_and_books_nothing(
    client, platform_app, platform, platform_http, world: World, db_session
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    platform_app.state.insurance_platform = _SplitOtherThanSent(platform)
    answer = await hand_over(client, world, order)
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "insurance_platform_unreachable"
    booked = await db_session.scalars(
        select(Settlement).where(Settlement.order_id == uuid.UUID(order["id"]))
    )
    assert booked.all() == []
    # The platform's settlement was reversed at once: nothing is left paid there.
    [fake] = list((await platform_http.get("/_control/settlements")).json())
    assert fake["undone"] is True
    assert (await received(platform_http))[-1]["infno"] == "2208"
