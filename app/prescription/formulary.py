"""The formulary per catalogue disease and the hospital pharmacists who review prescriptions
(both maintained by platform admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.models import (
    Account,
    ChronicDisease,
    Drug,
    FormularyItem,
    Institution,
    PharmacyStaff,
    PrescriptionReviewer,
    Role,
)
from app.prescription.schemas import FormularyItemIn, PrescriptionReviewerCreate


async def list_items(session: AsyncSession, disease_id: uuid.UUID) -> Sequence[FormularyItem]:
    """The drugs the online service may prescribe for the disease."""
    if await session.get(ChronicDisease, disease_id) is None:
        raise NotFound("disease_not_found")
    return (
        await session.scalars(
            select(FormularyItem)
            .where(FormularyItem.disease_id == disease_id)
            .order_by(FormularyItem.therapeutic_class, FormularyItem.drug_id)
        )
    ).all()


async def put_item(
    session: AsyncSession, disease_id: uuid.UUID, drug_id: uuid.UUID, body: FormularyItemIn
) -> FormularyItem:
    """Add a drug to the disease's formulary or change how it may be prescribed."""
    if await session.get(ChronicDisease, disease_id) is None:
        raise NotFound("disease_not_found")
    drug = await session.get(Drug, drug_id)
    if drug is None:
        raise NotFound("drug_not_found")
    if drug.controlled:
        raise Conflict("controlled_drug_not_online", drug=drug.generic_name_zh)
    row = await session.get(FormularyItem, (disease_id, drug_id))
    if row is None:
        row = FormularyItem(disease_id=disease_id, drug_id=drug_id)
        session.add(row)
    for name, value in body.model_dump().items():
        setattr(row, name, value)
    await session.flush()
    return row


async def add_reviewer(
    session: AsyncSession, body: PrescriptionReviewerCreate
) -> PrescriptionReviewer:
    """Make a hospital pharmacist (one not on a store's staff) an institution's reviewer."""
    account = await session.get(Account, body.account_id)
    if account is None or account.role != Role.pharmacist:
        raise NotFound("pharmacist_not_found")
    if await session.get(Institution, body.institution_id) is None:
        raise NotFound("reviewer_institution_not_found")
    on_store_staff = await session.scalar(
        select(PharmacyStaff.id).where(PharmacyStaff.account_id == account.id)
    )
    if on_store_staff is not None:
        raise Conflict("reviewer_is_store_staff")
    row = await session.scalar(
        select(PrescriptionReviewer).where(PrescriptionReviewer.account_id == account.id)
    )
    if row is None:
        row = PrescriptionReviewer(account_id=account.id, institution_id=body.institution_id)
        session.add(row)
    row.institution_id = body.institution_id
    await session.flush()
    return row
