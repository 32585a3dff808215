"""SQL for prescriptions, the formulary and reviewers; reads go through the caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import doctor_patient_ids
from app.kit.clock import utcnow
from app.kit.pagination import beyond
from app.models import (
    ConsultationRequest,
    DoctorSigningKey,
    Drug,
    FormularyItem,
    Patient,
    PharmacyStaff,
    Prescription,
    PrescriptionItem,
    PrescriptionReviewer,
    PrescriptionTransition,
    Role,
)


async def reviewer_institution(session: AsyncSession, account_id: uuid.UUID) -> uuid.UUID | None:
    """The institution whose prescriptions this (hospital) pharmacist reviews, if any."""
    return await session.scalar(
        select(PrescriptionReviewer.institution_id).where(
            PrescriptionReviewer.account_id == account_id
        )
    )


async def scope(session: AsyncSession, principal: Principal) -> ColumnElement[bool]:
    """Prescriptions the caller may see: a patient their own signed ones, a doctor those of
    patients in their active care (drafts only their own), a reviewer those written at their
    institution once signed. Store staff see prescriptions only through orders."""
    signed = Prescription.status != "draft"
    if principal.role == Role.patient and principal.patient_id is not None:
        return and_(Prescription.patient_id == principal.patient_id, signed)
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return and_(
            Prescription.patient_id.in_(doctor_patient_ids(principal.doctor_id, utcnow())),
            or_(Prescription.doctor_id == principal.doctor_id, signed),
        )
    if principal.role == Role.pharmacist and principal.store_id is None:
        institution_id = await reviewer_institution(session, principal.account_id)
        if institution_id is not None:
            return and_(Prescription.institution_id == institution_id, signed)
    return false()


async def get_visible(
    session: AsyncSession, principal: Principal, prescription_id: uuid.UUID, *, lock: bool = False
) -> Prescription | None:
    """The prescription if the caller may see it (row-locked for a change when `lock`)."""
    statement = select(Prescription).where(
        Prescription.id == prescription_id, await scope(session, principal)
    )
    if lock:
        # Re-read under the lock: the request may have loaded the row before (e.g. its 404
        # check), and a stale status would let two concurrent steps both pass the machine.
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def get_for_update(session: AsyncSession, prescription_id: uuid.UUID) -> Prescription | None:
    """The prescription, row-locked and re-read (callers have already checked the scope)."""
    return await session.scalar(
        select(Prescription)
        .where(Prescription.id == prescription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    patient_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[Prescription]:
    """The caller's prescriptions, newest first (after the `after` (created_at, id) key)."""
    statement = select(Prescription).where(await scope(session, principal))
    if status is not None:
        statement = statement.where(Prescription.status == status)
    if patient_id is not None:
        statement = statement.where(Prescription.patient_id == patient_id)
    order = (Prescription.created_at, Prescription.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    statement = statement.order_by(*(c.desc() for c in order)).limit(limit)
    return (await session.scalars(statement)).all()


async def by_idempotency_key(
    session: AsyncSession, doctor_id: uuid.UUID, key: str
) -> Prescription | None:
    """The prescription this doctor already created with `key`, if any."""
    return await session.scalar(
        select(Prescription).where(
            Prescription.doctor_id == doctor_id, Prescription.idempotency_key == key
        )
    )


async def items_of(session: AsyncSession, prescription_id: uuid.UUID) -> Sequence[PrescriptionItem]:
    """The lines of a prescription, in order."""
    return (
        await session.scalars(
            select(PrescriptionItem)
            .where(PrescriptionItem.prescription_id == prescription_id)
            .order_by(PrescriptionItem.line_no)
        )
    ).all()


async def items_of_many(
    session: AsyncSession, prescription_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PrescriptionItem]]:
    """The lines of several prescriptions, by prescription."""
    grouped: dict[uuid.UUID, list[PrescriptionItem]] = {pid: [] for pid in prescription_ids}
    if not prescription_ids:
        return grouped
    rows = await session.scalars(
        select(PrescriptionItem)
        .where(PrescriptionItem.prescription_id.in_(prescription_ids))
        .order_by(PrescriptionItem.prescription_id, PrescriptionItem.line_no)
    )
    for item in rows:
        grouped[item.prescription_id].append(item)
    return grouped


async def delete_items(session: AsyncSession, prescription_id: uuid.UUID) -> None:
    """Remove a draft's lines before it is rewritten."""
    for item in await items_of(session, prescription_id):
        await session.delete(item)
    await session.flush()


async def history(
    session: AsyncSession, prescription_id: uuid.UUID
) -> Sequence[PrescriptionTransition]:
    """Every state change of a prescription, oldest first."""
    return (
        await session.scalars(
            select(PrescriptionTransition)
            .where(PrescriptionTransition.prescription_id == prescription_id)
            .order_by(PrescriptionTransition.id)
        )
    ).all()


async def drugs_by_id(session: AsyncSession, drug_ids: Sequence[object]) -> dict[uuid.UUID, Drug]:
    """Drugs by id."""
    if not drug_ids:
        return {}
    rows = await session.scalars(select(Drug).where(Drug.id.in_(drug_ids)))
    return {drug.id: drug for drug in rows}


async def formulary_of(
    session: AsyncSession, disease_id: uuid.UUID
) -> dict[uuid.UUID, FormularyItem]:
    """The formulary of a disease, by drug id."""
    rows = await session.scalars(
        select(FormularyItem).where(FormularyItem.disease_id == disease_id)
    )
    return {row.drug_id: row for row in rows}


async def formulary_list(session: AsyncSession, disease_id: uuid.UUID) -> Sequence[FormularyItem]:
    """The formulary of a disease, by therapeutic class then drug."""
    return (
        await session.scalars(
            select(FormularyItem)
            .where(FormularyItem.disease_id == disease_id)
            .order_by(FormularyItem.therapeutic_class, FormularyItem.drug_id)
        )
    ).all()


async def on_store_staff(session: AsyncSession, account_id: uuid.UUID) -> bool:
    """Whether the account works for a pharmacy store (store staff review no prescriptions)."""
    found = await session.scalar(
        select(PharmacyStaff.id).where(PharmacyStaff.account_id == account_id)
    )
    return found is not None


async def reviewer(session: AsyncSession, account_id: uuid.UUID) -> PrescriptionReviewer | None:
    """The account's reviewer row, if it reviews for an institution."""
    return await session.scalar(
        select(PrescriptionReviewer).where(PrescriptionReviewer.account_id == account_id)
    )


async def classes_in_use(
    session: AsyncSession,
    patient_id: uuid.UUID,
    today: date,
    except_ids: Sequence[uuid.UUID],
) -> set[str]:
    """Therapeutic classes the patient takes now or is about to: prescriptions waiting for
    review, approved or ordered, and dispensed ones whose supply has not run out."""
    live = ("pending_review", "approved", "ordered")
    rows = await session.execute(
        select(
            FormularyItem.therapeutic_class,
            Prescription.status,
            Prescription.written_on,
            PrescriptionItem.days_supply,
        )
        .join(PrescriptionItem, PrescriptionItem.prescription_id == Prescription.id)
        .join(
            FormularyItem,
            and_(
                FormularyItem.disease_id == Prescription.disease_id,
                FormularyItem.drug_id == PrescriptionItem.drug_id,
            ),
        )
        .where(
            Prescription.patient_id == patient_id,
            Prescription.status.in_((*live, "dispensed")),
            Prescription.id.not_in(except_ids) if except_ids else true(),
        )
    )
    in_use: set[str] = set()
    for therapeutic_class, status, written_on, days_supply in rows:
        if status in live or (today - written_on).days < days_supply:
            in_use.add(therapeutic_class)
    return in_use


async def has_dispensed(
    session: AsyncSession, patient_id: uuid.UUID, disease_id: uuid.UUID
) -> bool:
    """Whether the patient has had a prescription for the disease dispensed before."""
    found = await session.scalar(
        select(Prescription.id)
        .where(
            Prescription.patient_id == patient_id,
            Prescription.disease_id == disease_id,
            Prescription.status == "dispensed",
        )
        .limit(1)
    )
    return found is not None


async def consultation(
    session: AsyncSession, consultation_id: uuid.UUID
) -> ConsultationRequest | None:
    """A consultation request by id."""
    return await session.get(ConsultationRequest, consultation_id)


async def signing_key(
    session: AsyncSession, key_id: uuid.UUID, *, lock: bool = False, share: bool = False
) -> DoctorSigningKey | None:
    """A signing key by id (row-locked for a change when `lock`, against one when `share`)."""
    statement = select(DoctorSigningKey).where(DoctorSigningKey.id == key_id)
    if lock or share:
        statement = statement.with_for_update(read=share and not lock)
    return await session.scalar(statement.execution_options(populate_existing=True))


async def active_signing_key(
    session: AsyncSession, doctor_id: uuid.UUID, *, lock: bool = False
) -> DoctorSigningKey | None:
    """The doctor's active signing key, if any (row-locked when `lock`)."""
    statement = select(DoctorSigningKey).where(
        DoctorSigningKey.doctor_id == doctor_id, DoctorSigningKey.status == "active"
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def count_pending_signing_keys(session: AsyncSession, doctor_id: uuid.UUID) -> int:
    """How many keys the doctor registered that no admin has activated (or refused) yet."""
    count = await session.scalar(
        select(func.count()).where(
            DoctorSigningKey.doctor_id == doctor_id, DoctorSigningKey.status == "pending"
        )
    )
    return int(count or 0)


async def list_signing_keys(
    session: AsyncSession,
    doctor_id: uuid.UUID | None,
    status: str | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[DoctorSigningKey]:
    """Signing keys, newest first, of one doctor and/or in one status (after the `after`
    (created_at, id) key)."""
    statement = select(DoctorSigningKey)
    if doctor_id is not None:
        statement = statement.where(DoctorSigningKey.doctor_id == doctor_id)
    if status is not None:
        statement = statement.where(DoctorSigningKey.status == status)
    order = (DoctorSigningKey.created_at, DoctorSigningKey.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    statement = statement.order_by(*(c.desc() for c in order)).limit(limit)
    return (await session.scalars(statement)).all()


async def approved_written_since(
    session: AsyncSession, since: date, limit: int
) -> Sequence[tuple[Prescription, uuid.UUID, str]]:
    """Approved (not yet ordered) prescriptions written on or after `since`, each with its
    patient's account and its first drug's name: those whose validity may end soon."""
    first_line = (
        select(PrescriptionItem.prescription_id, func.min(PrescriptionItem.line_no).label("n"))
        .group_by(PrescriptionItem.prescription_id)
        .subquery()
    )
    rows = await session.execute(
        select(Prescription, Patient.account_id, Drug.generic_name_zh)
        .join(Patient, Patient.id == Prescription.patient_id)
        .join(first_line, first_line.c.prescription_id == Prescription.id)
        .join(
            PrescriptionItem,
            and_(
                PrescriptionItem.prescription_id == Prescription.id,
                PrescriptionItem.line_no == first_line.c.n,
            ),
        )
        .join(Drug, Drug.id == PrescriptionItem.drug_id)
        .where(Prescription.status == "approved", Prescription.written_on >= since)
        .order_by(Prescription.written_on, Prescription.id)
        .limit(limit)
    )
    return [(p, account_id, name) for p, account_id, name in rows.all()]
