"""Two independent sources, compared, or no settlement: a claim is settled only with the
verified identity bound to it, only while the patient's declaration agrees, never with the
patient row; the personal account pays no more than the verified account still holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.identity import service as identity_service
from app.insurance import settlement as settlement_service
from app.kit.clock import utcnow
from app.models import IdentityDeclaration, LedgerEntry, Role, Settlement
from tests.fixtures import factories
from tests.insurance import world as w


async def _booked(db_session, patient_id) -> tuple[int, int]:
    settlements = await db_session.scalar(
        select(func.count()).where(Settlement.patient_id == patient_id)
    )
    entries = await db_session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .join(Settlement, Settlement.id == LedgerEntry.settlement_id)
        .where(Settlement.patient_id == patient_id)
    )
    return settlements, entries


async def _declare(db_session, patient, identity, **changes) -> None:
    fields = {
        "national_id": identity.national_id,
        "national_id_index": identity.national_id_index,
        "insurance_type": identity.insurance_type,
        "insured_area": identity.insured_area,
        **changes,
    }
    db_session.add(IdentityDeclaration(patient_id=patient.id, declared_at=utcnow(), **fields))
    await db_session.flush()


async def test_without_a_verified_identity_nothing_is_settled(db_session) -> None:
    world = await w.build(db_session)
    patient = await factories.patient_of(
        db_session, await factories.account(db_session, Role.patient)
    )
    claim = w.claim(world, patient, [(world.full, 5)])
    assert claim.insured_identity_id is None
    for attempt in (settlement_service.presettle, settlement_service.settle):
        with pytest.raises(Conflict) as caught:
            await attempt(db_session, claim, w.message_id())
        assert caught.value.code == "insured_identity_unverified"
    assert await _booked(db_session, patient.id) == (0, 0)


async def test_a_declaration_that_differs_stops_settlement(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session, insurance_type="310")
    identity = await identity_service.status_of(db_session, patient.id)
    assert identity.verified is not None
    await _declare(db_session, patient, identity.verified, insurance_type="390")
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
        )
    assert caught.value.code == "insured_identity_mismatch"
    assert caught.value.extra == {"fields": ["insurance_type"]}
    assert await _booked(db_session, patient.id) == (0, 0)


async def test_without_a_declaration_nothing_is_settled(db_session) -> None:
    world = await w.build(db_session)
    patient = await factories.patient_of(
        db_session, await factories.account(db_session, Role.patient)
    )
    identity = await factories.insured(db_session, patient, insurance_type="310", declare=False)
    claim = w.claim(world, patient, [(world.full, 5)]).model_copy(
        update={"insured_identity_id": identity.id}
    )
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, claim, w.message_id())
    assert caught.value.code == "insured_identity_mismatch"
    assert await _booked(db_session, patient.id) == (0, 0)


async def test_a_superseded_identity_settles_nothing(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session, insurance_type="310")
    stale = w.claim(world, patient, [(world.full, 5)])
    # Re-verified (same person, same type, a new account balance): the claim built on the old
    # record is refused.
    current = await identity_service.status_of(db_session, patient.id)
    assert current.verified is not None
    await factories.insured(
        db_session,
        patient,
        insurance_type="310",
        national_id=current.verified.national_id,
        personal_account_balance_fen=5_000,
    )
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, stale, w.message_id())
    assert caught.value.code == "insured_identity_unverified"


async def test_another_patients_identity_settles_nothing(db_session) -> None:
    world = await w.build(db_session)
    mine = await w.patient(db_session, insurance_type="390")
    theirs = await w.patient(db_session, insurance_type="310")
    borrowed = w.claim(world, mine, [(world.full, 5)]).model_copy(
        update={
            "insurance_type": "310",
            "insured_identity_id": w.claim(world, theirs, [(world.full, 1)]).insured_identity_id,
        }
    )
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, borrowed, w.message_id())
    assert caught.value.code == "insured_identity_unverified"


async def test_the_patient_row_does_not_decide_the_insurance_type(db_session) -> None:
    world = await w.build(db_session)
    await w.rule(db_session, world.disease, insurance_type="390", reimbursement_bp=5_000)
    patient = await w.patient(db_session, insurance_type="390")
    patient.insurance_type = "310"  # whatever the profile says now
    await db_session.flush()
    claim = w.claim(world, patient, [(world.full, 20)]).model_copy(update={"insurance_type": "310"})
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, claim, w.message_id())
    assert caught.value.code == "insurance_type_mismatch"
    settled = await settlement_service.settle(
        db_session, claim.model_copy(update={"insurance_type": "390"}), w.message_id()
    )
    assert settled.insurance_type == "390"
    assert settled.fund_fen == 15_000  # 50% of (400.00 - 100.00 deductible): the resident rule


async def test_the_personal_account_pays_what_the_verified_account_holds(db_session) -> None:
    world = await w.build(db_session)
    patient = await factories.patient_of(
        db_session, await factories.account(db_session, Role.patient)
    )
    identity = await factories.insured(
        db_session, patient, insurance_type="310", personal_account_balance_fen=1_000
    )
    patient.insurance_type = "310"

    def claim():
        return w.claim(world, patient, [(world.full, 20)], account_balance_fen=50_000).model_copy(
            update={"insured_identity_id": identity.id}
        )

    first = await settlement_service.settle(db_session, claim(), w.message_id())
    assert (first.account_fen, first.cash_fen) == (1_000, first.personal_fen - 1_000)
    second = await settlement_service.settle(db_session, claim(), w.message_id())
    assert second.account_fen == 0
    assert await identity_service.account_available_fen(db_session, identity) == 0
    reversal = await settlement_service.reverse(db_session, first.id, "退货", w.message_id())
    assert reversal.account_fen == -1_000
    assert reversal.insured_identity_id == identity.id
    assert await identity_service.account_available_fen(db_session, identity) == 1_000


async def test_a_later_declaration_is_what_counts(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session, insurance_type="310")
    status = await identity_service.status_of(db_session, patient.id)
    assert status.verified is not None
    await _declare(db_session, patient, status.verified, insured_area="140100")
    claim = w.claim(world, patient, [(world.full, 5)])
    with pytest.raises(Conflict):
        await settlement_service.settle(db_session, claim, w.message_id())
    # She corrects her declaration: the two sources agree again and the claim settles.
    db_session.add(
        IdentityDeclaration(
            patient_id=patient.id,
            national_id=status.verified.national_id,
            national_id_index=status.verified.national_id_index,
            insurance_type="310",
            insured_area=status.verified.insured_area,
            declared_at=utcnow() + timedelta(seconds=1),
        )
    )
    await db_session.flush()
    settled = await settlement_service.settle(db_session, claim, w.message_id())
    assert settled.insured_identity_id == status.verified.id
