"""Races on the bureau's money: statements, their confirmation, payment and recovery, flags
and their review, ledger corrections and benefit rules - N identical requests at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.insurance import settlement as settlement_service
from app.kit.clock import city_date, frozen_at
from app.models import (
    AuditEvent,
    BenefitRule,
    FlagReview,
    LedgerCorrection,
    LedgerEntry,
    Role,
    Settlement,
    SettlementFlag,
    Statement,
    StatementCarry,
)
from tests.fixtures import factories
from tests.fixtures.races import RACERS, RaceServer, race, race_all
from tests.insurance import world as w
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

STATEMENTS = "/api/v1/insurance/statements"
MARCH_10 = datetime(w.YEAR, 3, 10, 2, tzinfo=UTC)
APRIL_10 = datetime(w.YEAR, 4, 10, 2, tzinfo=UTC)


@dataclass
class Books:
    world: w.World
    settlement: Settlement
    bureau: dict[str, str]
    bureau_id: uuid.UUID


async def _books(server: RaceServer) -> Books:
    """A March settlement of a fresh institution, and a signed-in bureau clerk."""

    async def build(session: AsyncSession) -> Books:
        world = await w.build(session)
        patient = await w.patient(session)
        with frozen_at(MARCH_10):
            row = await settlement_service.settle(
                session, w.claim(world, patient, [(world.full, 15)]), w.message_id()
            )
        clerk = await factories.account(session, Role.bureau)
        return Books(world, row, await factories.bearer(session, server.settings, clerk), clerk.id)

    return await committed(server, build)


def _month(books: Books, month: str = "2026-03") -> dict[str, str]:
    return {"institution_id": str(books.world.institution.id), "month": month}


async def _statement(server: RaceServer, books: Books, confirm: bool = True) -> dict:
    created = await server.http.post(STATEMENTS, json=_month(books), headers=books.bureau)
    assert created.status_code == 201, created.text
    if confirm:
        url = f"{STATEMENTS}/{created.json()['id']}/confirm"
        assert (await server.http.post(url, headers=books.bureau)).status_code == 200
    return dict(created.json())


async def test_concurrent_statements_of_one_month_make_one(server: RaceServer) -> None:
    books = await _books(server)
    result = await race(server.http, "POST", STATEMENTS, json=_month(books), headers=books.bureau)
    result.all_replay()
    count = await server.scalar(
        select(func.count())
        .select_from(Statement)
        .where(Statement.institution_id == books.world.institution.id)
    )
    assert count == 1


async def test_concurrent_confirmations_confirm_once(server: RaceServer) -> None:
    books = await _books(server)
    statement = await _statement(server, books, confirm=False)
    result = await race(
        server.http, "POST", f"{STATEMENTS}/{statement['id']}/confirm", headers=books.bureau
    )
    result.all_replay()
    updates = await server.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.resource_id == statement["id"], AuditEvent.action == "update")
    )
    assert updates == 1


async def test_four_identical_payments_book_one_remittance(server: RaceServer) -> None:
    books = await _books(server)
    statement = await _statement(server, books)
    body = {"amount_fen": statement["payable_fen"], "reference": "YB-0410", "paid_on": "2026-04-10"}
    result = await race(
        server.http,
        "POST",
        f"{STATEMENTS}/{statement['id']}/payment",
        n=4,
        json=body,
        headers=books.bureau,
    )
    result.all_replay()
    remitted = await server.scalar(
        select(func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.statement_id == uuid.UUID(statement["id"]),
            LedgerEntry.account == "bureau_remittance",
        )
    )
    assert remitted == statement["payable_fen"]


async def test_concurrent_different_payments_book_one_and_refuse_the_rest(
    server: RaceServer,
) -> None:
    books = await _books(server)
    statement = await _statement(server, books)
    url = f"{STATEMENTS}/{statement['id']}/payment"
    requests = [
        (
            "POST",
            url,
            {
                "json": {"amount_fen": statement["payable_fen"] - n, "reference": f"YB-{n}",
                         "paid_on": "2026-04-10"},
                "headers": books.bureau,
            },
        )
        for n in range(RACERS)
    ]  # fmt: skip
    (await race_all(server.http, requests)).one_winner("statement_already_paid")
    transactions = await server.scalar(
        select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
            LedgerEntry.statement_id == uuid.UUID(statement["id"])
        )
    )
    assert transactions == 1


async def _negative_april(server: RaceServer, books: Books) -> dict:
    """March paid for, then April holding only March's late reversal: confirmed, negative."""
    await _statement(server, books)

    async def reverse(session: AsyncSession) -> None:
        with frozen_at(APRIL_10):
            await settlement_service.reverse(
                session, books.settlement.id, "delivery_failed", w.message_id()
            )

    await committed(server, reverse)
    created = await server.http.post(
        STATEMENTS, json=_month(books, "2026-04"), headers=books.bureau
    )
    april = dict(created.json())
    await server.http.post(f"{STATEMENTS}/{april['id']}/confirm", headers=books.bureau)
    assert april["payable_fen"] < 0
    return april


async def test_concurrent_recoveries_record_one(server: RaceServer) -> None:
    books = await _books(server)
    april = await _negative_april(server, books)
    body = {"amount_fen": -april["payable_fen"], "reference": "TH-1", "paid_on": "2026-05-02"}
    result = await race(
        server.http, "POST", f"{STATEMENTS}/{april['id']}/recovery", json=body, headers=books.bureau
    )
    result.all_replay()
    remitted = await server.scalar(
        select(func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.statement_id == uuid.UUID(april["id"]),
            LedgerEntry.account == "bureau_remittance",
        )
    )
    assert remitted == april["payable_fen"] < 0


async def test_a_negative_payable_is_carried_once_when_two_statements_are_made_at_once(
    server: RaceServer,
) -> None:
    books = await _books(server)
    april = await _negative_april(server, books)
    requests = [
        ("POST", STATEMENTS, {"json": _month(books, month), "headers": books.bureau})
        for month in ("2026-05", "2026-06", "2026-07")
    ]
    result = await race_all(server.http, requests)
    result.no_server_errors()
    carried = [r.json()["carried_in_fen"] for r in result.responses]
    assert sorted(carried) == [april["payable_fen"], 0, 0]
    carries = await server.scalar(
        select(func.count())
        .select_from(StatementCarry)
        .where(StatementCarry.statement_id == uuid.UUID(april["id"]))
    )
    assert carries == 1


async def test_concurrent_flags_by_one_reviewer_make_one_flag(server: RaceServer) -> None:
    books = await _books(server)
    result = await race(
        server.http,
        "POST",
        f"/api/v1/insurance/settlements/{books.settlement.id}/flags",
        json={"reason": "剂量存疑"},
        headers=books.bureau,
    )
    result.all_replay()
    flags = await server.scalar(
        select(func.count())
        .select_from(SettlementFlag)
        .where(SettlementFlag.settlement_id == books.settlement.id)
    )
    assert flags == 1


async def _flagged(server: RaceServer, books: Books) -> str:
    url = f"/api/v1/insurance/settlements/{books.settlement.id}"
    flagged = await server.http.post(f"{url}/flags", json={"reason": "存疑"}, headers=books.bureau)
    assert flagged.status_code == 201
    return f"{url}/review"


async def test_concurrent_rejections_reverse_the_settlement_once(server: RaceServer) -> None:
    books = await _books(server)
    url = await _flagged(server, books)
    body = {"decision": "rejected", "note": "不合理收费"}
    (await race(server.http, "POST", url, json=body, headers=books.bureau)).all_replay()
    reversals = await server.scalar(
        select(func.count())
        .select_from(Settlement)
        .where(Settlement.reverses_id == books.settlement.id)
    )
    reviews = await server.scalar(
        select(func.count())
        .select_from(FlagReview)
        .where(FlagReview.settlement_id == books.settlement.id)
    )
    assert (reversals, reviews) == (1, 1)


async def test_concurrent_opposite_reviews_decide_once(server: RaceServer) -> None:
    books = await _books(server)
    url = await _flagged(server, books)
    requests = [
        ("POST", url, {"json": {"decision": d, "note": "审核"}, "headers": books.bureau})
        for d in ("confirmed", "rejected")
    ]
    (await race_all(server.http, requests)).one_winner("flag_review_decided")


async def test_concurrent_corrections_of_one_transaction_correct_it_once(
    server: RaceServer,
) -> None:
    books = await _books(server)
    statement = await _statement(server, books)
    paid = await server.http.post(
        f"{STATEMENTS}/{statement['id']}/payment",
        json={"amount_fen": statement["payable_fen"], "reference": "YB", "paid_on": "2026-04-10"},
        headers=books.bureau,
    )
    assert paid.status_code == 200
    report = await server.http.get(
        f"{STATEMENTS}/{statement['id']}/reconciliation", headers=books.bureau
    )
    [remittance] = report.json()["remittances"]
    result = await race(
        server.http,
        "POST",
        "/api/v1/insurance/ledger/corrections",
        json={"transaction_id": remittance["transaction_id"], "reason": "金额错误"},
        headers=books.bureau,
    )
    result.one_winner("ledger_transaction_already_corrected")
    corrections = await server.scalar(
        select(func.count())
        .select_from(LedgerCorrection)
        .where(LedgerCorrection.corrected_transaction_id == uuid.UUID(remittance["transaction_id"]))
    )
    assert corrections == 1


async def test_concurrent_identical_benefit_rules_make_one_version(server: RaceServer) -> None:
    books = await _books(server)
    year = city_date().year
    body = {
        "insurance_type": "390",
        "disease_id": str(books.world.disease.id),
        "institution_level": "tertiary",
        "year": year,
        "effective_from": city_date().isoformat(),
        "deductible_fen": 20_000,
        "reimbursement_bp": 6_000,
        "partial_prepay_bp": 1_000,
    }
    result = await race(
        server.http, "POST", "/api/v1/insurance/benefit-rules", json=body, headers=books.bureau
    )
    result.all_replay()
    versions = await server.scalar(
        select(func.count())
        .select_from(BenefitRule)
        .where(
            BenefitRule.disease_id == books.world.disease.id, BenefitRule.insurance_type == "390"
        )
    )
    assert versions == 1
