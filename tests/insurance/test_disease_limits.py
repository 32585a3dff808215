"""The annual limit is per disease (按病种限额): the catalogue edition in force on the claim's
day gives each disease its own limit per insurance type; the quote and the settlement apply
it alike, and one disease's spending never touches another's."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.insurance import settlement as settlement_service
from app.models import CatalogueEdition, InsuranceQuotaDisease, Settlement
from tests.fixtures import factories
from tests.insurance import world as w

HYPERTENSION_LIMIT = 90_000


async def _used(db_session, patient, disease) -> int:
    usage = await db_session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, disease.id))
    return 0 if usage is None else usage.limit_used_fen


async def test_each_disease_has_its_own_limit(db_session) -> None:
    diabetes = await w.build(db_session)
    limits = {"310": HYPERTENSION_LIMIT, "390": HYPERTENSION_LIMIT}
    hypertension = await w.second_disease(db_session, diabetes, limits)
    patient = await w.patient(db_session)
    # Diabetes care until its limit is spent (each claim: 1,000.00 yuan, 70% after deductible).
    for _ in range(4):
        await settlement_service.settle(
            db_session, w.claim(diabetes, patient, [(diabetes.full, 50)]), w.message_id()
        )
    assert await _used(db_session, patient, diabetes.disease) == w.LIMIT
    # Hypertension is paid in full from its own limit (the deductible is already met).
    first = await settlement_service.settle(
        db_session, w.claim(hypertension, patient, [(hypertension.full, 50)]), w.message_id()
    )
    assert (first.fund_fen, first.over_limit_fen) == (70_000, 0)
    assert first.limit_remaining_fen == HYPERTENSION_LIMIT - 70_000
    second = await settlement_service.settle(
        db_session, w.claim(hypertension, patient, [(hypertension.full, 50)]), w.message_id()
    )
    assert (second.fund_fen, second.over_limit_fen) == (20_000, 50_000)
    assert await _used(db_session, patient, hypertension.disease) == HYPERTENSION_LIMIT
    assert await _used(db_session, patient, diabetes.disease) == w.LIMIT


async def test_the_limit_is_the_one_of_the_claim_s_insurance_type(db_session) -> None:
    diabetes = await w.build(db_session)
    hypertension = await w.second_disease(db_session, diabetes, {"310": 200_000, "390": 30_000})
    employee, resident = await w.patient(db_session), await w.patient(db_session, "390")
    lines = [(hypertension.full, 50)]
    paid = await settlement_service.settle(
        db_session, w.claim(hypertension, employee, lines), w.message_id()
    )
    capped = await settlement_service.settle(
        db_session, w.claim(hypertension, resident, lines), w.message_id()
    )
    assert (paid.fund_fen, paid.over_limit_fen) == (63_000, 0)
    assert (capped.fund_fen, capped.over_limit_fen, capped.limit_remaining_fen) == (
        30_000,
        33_000,
        0,
    )


@pytest.mark.parametrize("spent_claims", [0, 1, 2, 3])
async def test_the_quote_equals_the_settlement_around_the_limit(db_session, spent_claims) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    for _ in range(spent_claims):
        await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 50)]), w.message_id()
        )
    claim = w.claim(world, patient, [(world.full, 50), (world.partial, 3)])
    quote = await settlement_service.presettle(db_session, claim)
    settled = await settlement_service.settle(db_session, claim, w.message_id())
    names = ("total_fen", "fund_fen", "personal_fen", "cash_fen", "over_limit_fen")
    assert [getattr(quote, n) for n in names] == [getattr(settled, n) for n in names]
    assert quote.limit_remaining_fen == settled.limit_remaining_fen


async def test_a_disease_the_catalogue_does_not_list_is_not_settled(db_session) -> None:
    world = await w.build(db_session)
    unlisted = await factories.disease(db_session, national_code="M04600")
    await w.rule(db_session, unlisted)
    patient = await w.patient(db_session)
    claim = w.claim(dataclasses.replace(world, disease=unlisted), patient, [(world.full, 5)])
    for attempt in (
        settlement_service.presettle(db_session, claim),
        settlement_service.settle(db_session, claim, w.message_id()),
    ):
        with pytest.raises(Conflict) as refused:
            await attempt
        assert refused.value.code == "disease_not_in_catalogue"
    booked = await db_session.scalar(
        select(func.count()).select_from(Settlement).where(Settlement.patient_id == patient.id)
    )
    assert booked == 0


async def test_a_later_edition_s_limit_applies_from_its_day(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    march = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 50)]), w.message_id()
    )
    assert march.fund_fen == 63_000
    # From 15 March the catalogue gives the disease 700.00 yuan a year instead of 2,000.00.
    edition = CatalogueEdition(effective_from=date(w.YEAR, 3, 15), note="mid-year revision")
    db_session.add(edition)
    await db_session.flush()
    await factories.list_in_catalogue(db_session, world.disease, {"310": 70_000, "390": 70_000})
    april = await settlement_service.settle(
        db_session,
        w.claim(world, patient, [(world.full, 50)], moment=w.APRIL_FIRST),
        w.message_id(),
    )
    assert (april.fund_fen, april.limit_remaining_fen) == (7_000, 0)
    # A claim dated before the revision is still quoted under the limit of its own day.
    earlier = await settlement_service.presettle(
        db_session,
        w.claim(world, patient, [(world.full, 50)], moment=datetime(w.YEAR, 3, 12, tzinfo=UTC)),
    )
    assert earlier.fund_fen == 70_000
