"""The demo month: one patient's March at the pilot hospital, and the hospital's statement."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from app.demo import data, load_demo_data
from app.demo.insurance import load_benefit_rules, load_demo_month
from app.kit.clock import frozen_at
from app.models import BenefitRule
from app.payment import reconciliation

# The demo month's statement (fen). March 2026, pilot hospital, patient
# 王海军 (310, M01603; deductible 200.00, fund 85%, category B pre-pays 10%):
#   d1 total 21,320 = fund 116 (deductible 20,000 met here) + cash 21,204
#   d2 total 29,000 = fund 22,185 + cash 6,815, delivery failed, reversed (all negated)
#   d3 total 29,000 = fund 22,185 + cash 6,815 (d2's order delivered again)
#   d4 total 18,080 = fund 14,637 + personal account 3,000 + cash 443
EXPECTED = {
    "settlement_count": 4,
    "reversal_count": 1,
    "total_fen": 68_400,
    "fund_fen": 36_938,
    "account_fen": 3_000,
    "cash_fen": 28_462,
}
SPLITS = {
    "d1": (21_320, 116, 0, 21_204, 20_000),
    "d2": (29_000, 22_185, 0, 6_815, 0),
    "d3": (29_000, 22_185, 0, 6_815, 0),
    "d4": (18_080, 14_637, 3_000, 443, 0),
}


async def test_demo_month_statement_and_reconciliation(db_session) -> None:
    await load_demo_data(db_session)
    month = await load_demo_month(db_session)
    again = await load_demo_month(db_session)
    assert again.statement.id == month.statement.id
    statement = month.statement
    figures = {name: getattr(statement, name) for name in EXPECTED}
    splits = {
        key: (s.total_fen, s.fund_fen, s.account_fen, s.cash_fen, s.deductible_fen)
        for key, s in month.settlements.items()
    }
    assert splits == SPLITS
    assert month.reversal.reverses_id == month.settlements["d2"].id
    assert figures == EXPECTED
    assert statement.status == "paid"
    assert statement.paid_fen == statement.fund_fen + statement.account_fen
    assert (await reconciliation.reconcile(db_session, statement.id)).differences == []


async def test_the_demo_benefit_rules_follow_the_clock_into_a_new_year(db_session) -> None:
    await load_demo_data(db_session)
    with frozen_at(datetime(2027, 1, 1, 2, tzinfo=UTC)):  # 10:00 on 1 January in the city
        assert await load_benefit_rules(db_session) == len(data.BENEFIT_RULES)
        assert await load_benefit_rules(db_session) == 0

    def terms(rule: BenefitRule) -> tuple[object, ...]:
        return (rule.insurance_type, rule.disease_id, rule.institution_level, rule.deductible_fen,
                rule.reimbursement_bp, rule.partial_prepay_bp)  # fmt: skip

    # The demo's rules only: on a shared PostgreSQL test database other suites' rules may exist.
    rules = (
        await db_session.scalars(select(BenefitRule).where(BenefitRule.note == "DEMO DATA"))
    ).all()
    by_year = {year: sorted(terms(r) for r in rules if r.year == year) for year in (2026, 2027)}
    assert by_year[2027] == by_year[2026] and len(by_year[2027]) == len(data.BENEFIT_RULES)
    assert {r.effective_from for r in rules if r.year == 2027} == {date(2027, 1, 1)}
