"""Prescribing: write (rules), sign, review, revise, renew and revoke - each audited, each move
through the declared state machine, every reliance on the content preceded by verification."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.enrollment.entitlements import ensure_may_prescribe
from app.errors import Conflict, NotFound
from app.kit.clock import city_date, utcnow
from app.kit.repository import by_id
from app.models import ChronicDisease, Doctor, Prescription, PrescriptionItem
from app.patient import repository as patient_repository
from app.prescription import keys, rules, signing
from app.prescription import repository as rx_repository
from app.prescription.facts import PrescriptionReviewed, RevocationRequested
from app.prescription.schemas import PrescriptionItemIn
from app.prescription.states import PRESCRIPTION_MACHINE, RxStatus, move, record_creation

RESOURCE = "prescription"


@dataclass(frozen=True)
class Draft:
    """What the doctor asks for, whichever way it arrives (new, revised, renewed)."""

    diagnosis_zh: str
    is_long: bool
    valid_days: int
    items: Sequence[PrescriptionItemIn]


@dataclass(frozen=True)
class Written:
    """A draft that passed every rule: its priced lines, supply and total."""

    lines: list[rules.PricedLine]
    days_supply: int
    total_fen: int
    entitlement_id: uuid.UUID


def valid_until(prescription: Prescription) -> date:
    """The last city day the prescription may be filled on."""
    return prescription.written_on + timedelta(days=prescription.valid_days - 1)


def is_expired(prescription: Prescription, today: date | None = None) -> bool:
    """Whether the prescription's validity has run out (it can no longer be ordered)."""
    return (today or city_date()) > valid_until(prescription)


async def _audit(
    session: AsyncSession, principal: Principal, prescription: Prescription, action: AuditAction
) -> None:
    await audit_service.record(
        session, principal, action, RESOURCE, prescription.id, prescription.patient_id
    )


async def _is_stable(
    session: AsyncSession,
    patient_id: uuid.UUID,
    disease_id: uuid.UUID,
    renewal_of_id: uuid.UUID | None,
) -> bool:
    """A stable chronic patient (long prescriptions): a renewal, or someone already dispensed
    a prescription for the disease."""
    return renewal_of_id is not None or await rx_repository.has_dispensed(
        session, patient_id, disease_id
    )


async def _doctor(session: AsyncSession, principal: Principal) -> Doctor:
    assert principal.doctor_id is not None
    doctor = await by_id(session, Doctor, principal.doctor_id)
    assert doctor is not None
    return doctor


async def _disease(session: AsyncSession, disease_id: uuid.UUID) -> ChronicDisease:
    disease = await by_id(session, ChronicDisease, disease_id)
    if disease is None:
        raise NotFound("disease_not_found")
    return disease


async def _apply_rules(
    session: AsyncSession,
    settings: Settings,
    patient_id: uuid.UUID,
    disease_id: uuid.UUID,
    draft: Draft,
    written_on: date,
    *,
    stable: bool,
    except_ids: Sequence[uuid.UUID] = (),
) -> Written:
    """Every prescribing rule, in the order a doctor would want to hear about them."""
    rules.check_validity(draft.valid_days, settings)
    days_supply = max(item.days_supply for item in draft.items)
    rules.check_days_supply(days_supply, draft.is_long, settings)
    if draft.is_long and not stable:
        raise Conflict("long_prescription_not_stable")
    entitlement = await ensure_may_prescribe(session, patient_id, disease_id, written_on)
    rules.check_supply_within_entitlement(written_on, days_supply, entitlement.valid_until)
    drugs = await rx_repository.drugs_by_id(session, [item.drug_id for item in draft.items])
    formulary = await rx_repository.formulary_of(session, disease_id)
    lines = []
    for item in draft.items:
        drug = drugs.get(item.drug_id)
        if drug is None:
            raise NotFound("drug_not_found")
        request = rules.ItemRequest(
            item.drug_id, item.dose, item.frequency, item.route, item.days_supply
        )
        lines.append(rules.price_line(request, drug, formulary.get(drug.id)))
    in_use = await rx_repository.classes_in_use(session, patient_id, written_on, except_ids)
    rules.check_duplicate_therapy(lines, in_use)
    total = sum(line.amount_fen for line in lines)
    return Written(lines, days_supply, total, entitlement.id)


async def _write_items(session: AsyncSession, prescription: Prescription, written: Written) -> None:
    for line_no, line in enumerate(written.lines, start=1):
        session.add(
            PrescriptionItem(
                prescription_id=prescription.id,
                line_no=line_no,
                drug_id=line.drug.id,
                dose_quantity=f"{line.request.dose.normalize():f}",
                dose_unit=line.formulary.dose_unit,
                frequency=line.request.frequency,
                route=line.request.route or line.formulary.default_route,
                days_supply=line.request.days_supply,
                packs=line.packs,
                unit_price_fen=line.drug.price_fen,
                amount_fen=line.amount_fen,
            )
        )
    await session.flush()


async def _check_consultation(
    session: AsyncSession, consultation_id: uuid.UUID | None, patient_id: uuid.UUID, doctor: Doctor
) -> None:
    if consultation_id is None:
        return
    consultation = await rx_repository.consultation(session, consultation_id)
    if (
        consultation is None
        or consultation.patient_id != patient_id
        or consultation.doctor_id != doctor.id
    ):
        raise Conflict("consultation_mismatch")


async def create(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patient_id: uuid.UUID,
    disease_id: uuid.UUID,
    draft: Draft,
    *,
    visit_kind: str,
    consultation_id: uuid.UUID | None,
    idempotency_key: str | None,
    renewal_of: Prescription | None = None,
) -> Prescription:
    """A new draft by the patient's doctor, after every rule (a retried key returns the first)."""
    doctor = await _doctor(session, principal)
    if idempotency_key is not None:
        existing = await rx_repository.by_idempotency_key(session, doctor.id, idempotency_key)
        if existing is not None:
            return existing
    # Not the doctor's patient (no active care relationship): as if the patient did not exist.
    if await patient_repository.get_visible(session, principal, patient_id) is None:
        raise NotFound()
    rules.check_visit(visit_kind)
    await _check_consultation(session, consultation_id, patient_id, doctor)
    await _disease(session, disease_id)
    today = city_date()
    renewal_of_id = renewal_of.id if renewal_of is not None else None
    stable = await _is_stable(session, patient_id, disease_id, renewal_of_id)
    except_ids = [renewal_of.id] if renewal_of is not None else []
    written = await _apply_rules(
        session, settings, patient_id, disease_id, draft, today, stable=stable,
        except_ids=except_ids,
    )  # fmt: skip
    prescription = Prescription(
        patient_id=patient_id,
        doctor_id=doctor.id,
        institution_id=doctor.institution_id,
        disease_id=disease_id,
        entitlement_id=written.entitlement_id,
        consultation_id=consultation_id,
        renewal_of_id=renewal_of_id,
        status=RxStatus.draft,
        diagnosis_zh=draft.diagnosis_zh,
        is_long=draft.is_long,
        written_on=today,
        valid_days=draft.valid_days,
        days_supply=written.days_supply,
        total_fen=written.total_fen,
        idempotency_key=idempotency_key,
    )
    session.add(prescription)
    await session.flush()
    await _write_items(session, prescription, written)
    await record_creation(session, prescription, principal.account_id)
    await _audit(session, principal, prescription, AuditAction.create)
    return prescription


async def _own(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID, *, lock: bool = True
) -> Prescription:
    """A prescription the calling doctor wrote (row-locked unless `lock` is False); anyone
    else's is 404."""
    prescription = await rx_repository.get_visible(session, principal, prescription_id, lock=lock)
    if prescription is None or prescription.doctor_id != principal.doctor_id:
        raise NotFound()
    return prescription


async def _signable(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID, *, lock: bool
) -> tuple[Prescription, Sequence[PrescriptionItem], ChronicDisease]:
    """The calling doctor's draft that may be signed now, with its lines and disease."""
    prescription = await _own(session, principal, prescription_id, lock=lock)
    PRESCRIPTION_MACHINE.check(RxStatus(prescription.status), RxStatus.pending_review)
    if is_expired(prescription):
        raise Conflict("prescription_expired")
    items = await rx_repository.items_of(session, prescription.id)
    return prescription, items, await _disease(session, prescription.disease_id)


async def signing_payload(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID
) -> signing.Payload:
    """The exact bytes the doctor's device signs for this draft, with their active key."""
    prescription, items, disease = await _signable(session, principal, prescription_id, lock=False)
    assert principal.doctor_id is not None
    key = await keys.active_key(session, principal.doctor_id)
    await _audit(session, principal, prescription, AuditAction.read)
    return signing.payload(prescription, items, disease, key, utcnow())


async def sign(
    session: AsyncSession,
    principal: Principal,
    prescription_id: uuid.UUID,
    signed_content: str,
    signature: str,
) -> Prescription:
    """The doctor's signature, made on their device over the payload, seals the draft: it is
    checked against the doctor's active key and the draft as it stands, stored with the key's
    id, and the prescription goes to the pharmacist."""
    prescription, items, disease = await _signable(session, principal, prescription_id, lock=True)
    key_id, _ = signing.claimed_key_and_time(signed_content)
    # Shared lock: a revocation or rotation of this key waits for the signature (or wins first).
    key = await rx_repository.signing_key(session, key_id, share=True)
    signing.check_signature(prescription, items, disease, key, signed_content, signature, utcnow())
    assert key is not None
    signing.seal(prescription, key, signed_content, signature)
    await move(session, prescription, RxStatus.pending_review, principal.account_id)
    await _audit(session, principal, prescription, AuditAction.update)
    return prescription


async def revise(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    prescription_id: uuid.UUID,
    draft: Draft,
) -> Prescription:
    """Rewrite a prescription the pharmacist returned: back to draft, to be signed again."""
    prescription = await _own(session, principal, prescription_id)
    await move(session, prescription, RxStatus.draft, principal.account_id, "revised")
    today = city_date()
    stable = await _is_stable(
        session, prescription.patient_id, prescription.disease_id, prescription.renewal_of_id
    )
    excluded = [
        prescription.id,
        *([prescription.renewal_of_id] if prescription.renewal_of_id else []),
    ]
    written = await _apply_rules(
        session, settings, prescription.patient_id, prescription.disease_id, draft, today,
        stable=stable, except_ids=excluded,
    )  # fmt: skip
    await rx_repository.delete_items(session, prescription.id)
    await _write_items(session, prescription, written)
    signing.clear_signature(prescription)
    prescription.diagnosis_zh = draft.diagnosis_zh
    prescription.is_long = draft.is_long
    prescription.valid_days = draft.valid_days
    prescription.written_on = today
    prescription.days_supply = written.days_supply
    prescription.entitlement_id = written.entitlement_id
    prescription.total_fen = written.total_fen
    prescription.review_reason = None
    await session.flush()
    await _audit(session, principal, prescription, AuditAction.update)
    return prescription


async def renew(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    original_id: uuid.UUID,
    diagnosis_zh: str | None,
    valid_days: int,
    items: Sequence[PrescriptionItemIn] | None,
    idempotency_key: str | None,
) -> Prescription:
    """A renewal of a dispensed long prescription, referencing it (same lines by default)."""
    original = await rx_repository.get_visible(session, principal, original_id)
    if original is None:
        raise NotFound()
    if not original.is_long:
        raise Conflict("renewal_requires_long_prescription")
    if RxStatus(original.status) != RxStatus.dispensed:
        raise Conflict("renewal_requires_dispensed")
    old_items = await rx_repository.items_of(session, original.id)
    await verify(session, original, old_items)
    lines = items or [
        PrescriptionItemIn.model_validate(
            {
                "drug_id": item.drug_id,
                "dose": item.dose_quantity,
                "frequency": item.frequency,
                "route": item.route,
                "days_supply": item.days_supply,
            }
        )
        for item in old_items
    ]
    draft = Draft(diagnosis_zh or original.diagnosis_zh, True, valid_days, lines)
    return await create(
        session, settings, principal, original.patient_id, original.disease_id, draft,
        visit_kind="follow_up", consultation_id=None, idempotency_key=idempotency_key,
        renewal_of=original,
    )  # fmt: skip


async def verify(
    session: AsyncSession, prescription: Prescription, items: Sequence[PrescriptionItem]
) -> None:
    """Refuse (409) a signed prescription whose rows or signature no longer match, or whose
    key was not active when it was signed."""
    if prescription.signature is None and RxStatus(prescription.status) in (
        RxStatus.draft,
        RxStatus.revoked,
    ):
        return
    disease = await _disease(session, prescription.disease_id)
    key = (
        await rx_repository.signing_key(session, prescription.signing_key_id)
        if prescription.signing_key_id is not None
        else None
    )
    signing.verify(prescription, items, disease, key)


async def _review(
    session: AsyncSession,
    principal: Principal,
    prescription_id: uuid.UUID,
    target: RxStatus,
    reason: str | None = None,
) -> Prescription:
    prescription = await rx_repository.get_visible(session, principal, prescription_id, lock=True)
    if prescription is None or principal.store_id is not None:
        raise NotFound()
    await verify(session, prescription, await rx_repository.items_of(session, prescription.id))
    await move(session, prescription, target, principal.account_id, reason)
    if target == RxStatus.approved and is_expired(prescription):
        raise Conflict("prescription_expired")
    prescription.reviewed_by_account_id = principal.account_id
    prescription.reviewed_at = utcnow()
    prescription.review_reason = reason
    await _audit(session, principal, prescription, AuditAction.update)
    await events.record(session, PrescriptionReviewed(prescription))
    return prescription


async def approve(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID
) -> Prescription:
    """The reviewing pharmacist approves: the patient may now choose a store."""
    return await _review(session, principal, prescription_id, RxStatus.approved)


async def reject(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID, reason: str
) -> Prescription:
    """The reviewing pharmacist returns the prescription to its doctor with a reason."""
    return await _review(session, principal, prescription_id, RxStatus.rejected, reason)


async def revoke(
    session: AsyncSession,
    principal: Principal,
    prescription_id: uuid.UUID,
    reason: str,
) -> Prescription:
    """The doctor revokes a prescription that has not been dispensed; an ordered one has its
    order cancelled first (possible only before the boxes are picked)."""
    prescription = await _own(session, principal, prescription_id)
    await events.record(session, RevocationRequested(prescription, principal, reason))
    await move(session, prescription, RxStatus.revoked, principal.account_id, reason)
    prescription.revoked_at = utcnow()
    prescription.revoke_reason = reason
    await _audit(session, principal, prescription, AuditAction.update)
    return prescription


async def get(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID
) -> tuple[Prescription, Sequence[PrescriptionItem]]:
    """A prescription the caller may see, verified, with its lines (audited)."""
    prescription = await rx_repository.get_visible(session, principal, prescription_id)
    if prescription is None:
        raise NotFound()
    items = await rx_repository.items_of(session, prescription.id)
    await verify(session, prescription, items)
    await _audit(session, principal, prescription, AuditAction.read)
    return prescription, items


async def list_prescriptions(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    patient_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[tuple[Prescription, list[PrescriptionItem]]]:
    """The caller's prescriptions with their lines, newest first (audited)."""
    rows = await rx_repository.list_visible(session, principal, status, patient_id, limit, after)
    items = await rx_repository.items_of_many(session, [row.id for row in rows])
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(row.id, row.patient_id) for row in rows]
    )
    return [(row, items[row.id]) for row in rows]
