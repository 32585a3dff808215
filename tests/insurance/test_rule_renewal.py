"""Benefit rules stay in force until replaced: hand-overs go on across 1 January under last
year's rule with the new year's quota, and the bureau is warned and shown what is not renewed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.insurance import rules as rule_service
from app.insurance import settlement as settlement_service
from app.kit.clock import frozen_at, utcnow
from app.models import OutboxMessage, Role
from tests.fixtures import factories
from tests.insurance import world as w

NEXT = w.YEAR + 1
# 23:59:59 on 31 December and 00:00:01 on 1 January in Asia/Shanghai (UTC+8).
LAST_SECOND = datetime(w.YEAR, 12, 31, 15, 59, 59, tzinfo=UTC)
FIRST_SECOND = datetime(w.YEAR, 12, 31, 16, 0, 1, tzinfo=UTC)
RENEWALS = "/api/v1/insurance/benefit-rules/renewals"


async def _settle_now(session, world, patient, quantity: int = 10):
    return await settlement_service.settle(
        session,
        w.claim(world, patient, [(world.full, quantity)], moment=utcnow()),
        w.message_id(),
    )


async def test_hand_over_on_new_years_day_settles_under_last_years_rule_with_a_new_quota(
    db_session,
) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    with frozen_at(LAST_SECOND):
        december = await _settle_now(db_session, world, patient)
    with frozen_at(FIRST_SECOND):
        january = await _settle_now(db_session, world, patient)
    assert december.year == w.YEAR and january.year == NEXT
    assert january.benefit_rule_id == december.benefit_rule_id == world.rule.id
    # The deductible and the annual limit start again with the year of the claim.
    assert january.deductible_fen == december.deductible_fen == w.DEDUCTIBLE
    assert january.limit_remaining_fen == w.LIMIT - january.fund_fen
    assert january.fund_fen == december.fund_fen


async def test_the_new_years_own_rule_takes_over_from_its_effective_day(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    renewed = await w.rule(
        db_session, world.disease, effective_from=date(NEXT, 1, 5), reimbursement_bp=9_000
    )
    with frozen_at(datetime(NEXT, 1, 4, 2, tzinfo=UTC)):
        carried = await _settle_now(db_session, world, patient)
    with frozen_at(datetime(NEXT, 1, 5, 2, tzinfo=UTC)):
        own = await _settle_now(db_session, world, patient)
    assert carried.benefit_rule_id == world.rule.id
    assert own.benefit_rule_id == renewed.id


async def test_renewals_list_the_rules_without_a_version_for_the_coming_year(
    client, db_session, settings
) -> None:
    world = await w.build(db_session)
    clerk = await factories.account(db_session, Role.bureau)
    with frozen_at(datetime(w.YEAR, 12, 2, 2, tzinfo=UTC)):
        bureau = await factories.bearer(db_session, settings, clerk)  # signed in that day
        listed = await client.get(RENEWALS, headers=bureau)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert (body["year"], body["first_day"], body["days_left"]) == (NEXT, f"{NEXT}-01-01", 30)
        [key] = [k for k in body["keys"] if k["disease_id"] == str(world.disease.id)]
        assert (key["renewed"], key["carried"]["id"], key["own"]) == (
            False,
            str(world.rule.id),
            None,
        )
        assert body["missing"] >= 1 and body["keys"][0]["renewed"] is False
        created = await client.post(
            "/api/v1/insurance/benefit-rules",
            json={
                "insurance_type": "310",
                "disease_id": str(world.disease.id),
                "institution_level": "tertiary",
                "year": NEXT,
                "deductible_fen": w.DEDUCTIBLE,
                "reimbursement_bp": 7_500,
                "partial_prepay_bp": w.PREPAY_BP,
            },
            headers=bureau,
        )
        assert created.status_code == 201, created.text
        listed = (await client.get(RENEWALS, headers=bureau)).json()
    [key] = [k for k in listed["keys"] if k["disease_id"] == str(world.disease.id)]
    assert key["renewed"] is True and key["own"]["id"] == created.json()["id"]


async def test_only_the_bureau_reads_the_renewals(client, db_session, settings) -> None:
    for role in (Role.patient, Role.doctor, Role.pharmacist, Role.courier, Role.admin):
        headers = await factories.bearer(
            db_session, settings, await factories.account(db_session, role)
        )
        assert (await client.get(RENEWALS, headers=headers)).status_code == 403


async def _notices(session) -> list[str]:
    rows = await session.scalars(
        select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.like(f"benefit-rules-not-renewed:{NEXT}:%")
        )
    )
    return list(rows)


async def test_the_bureau_is_warned_daily_from_the_warning_period_until_renewed(
    db_session, settings
) -> None:
    world = await w.build(db_session)
    clerk = await factories.account(db_session, Role.bureau)
    days = settings.benefit_rule_warning_days
    first_warning = datetime(NEXT, 1, 1, 2, tzinfo=UTC) - timedelta(days=days)
    assert (
        await rule_service.warn_unrenewed(db_session, days, first_warning - timedelta(days=1)) == 0
    )
    assert await _notices(db_session) == []
    for _ in range(2):  # twice the same day: one notice
        assert await rule_service.warn_unrenewed(db_session, days, first_warning) >= 1
    day_one = first_warning.date().isoformat()
    assert f"benefit-rules-not-renewed:{NEXT}:{day_one}:{clerk.id}" in await _notices(db_session)
    await rule_service.warn_unrenewed(db_session, days, first_warning + timedelta(days=1))
    mine = [k for k in await _notices(db_session) if k.endswith(str(clerk.id))]
    assert len(mine) == 2
    message = await db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == mine[0])
    )
    assert message.payload["template"] == "benefit_rules_not_renewed"
    assert any(world.disease.code in key for key in message.payload["data"]["keys"])
