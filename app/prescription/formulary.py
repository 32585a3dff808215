"""The formulary per catalogue disease and the hospital pharmacists who review prescriptions
(both maintained by platform admins)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, NotFound
from app.kit.repository import by_id
from app.models import (
    Account,
    ChronicDisease,
    Drug,
    FormularyItem,
    Institution,
    PrescriptionReviewer,
    Role,
)
from app.prescription import repository
from app.prescription.schemas import FormularyItemIn, PrescriptionReviewerCreate


async def list_items(session: AsyncSession, disease_id: uuid.UUID) -> Sequence[FormularyItem]:
    """The drugs the online service may prescribe for the disease."""
    if await by_id(session, ChronicDisease, disease_id) is None:
        raise NotFound("disease_not_found")
    return await repository.formulary_list(session, disease_id)


async def put_item(
    session: AsyncSession, disease_id: uuid.UUID, drug_id: uuid.UUID, body: FormularyItemIn
) -> FormularyItem:
    """Add a drug to the disease's formulary or change how it may be prescribed."""
    if await by_id(session, ChronicDisease, disease_id) is None:
        raise NotFound("disease_not_found")
    drug = await by_id(session, Drug, drug_id)
    if drug is None:
        raise NotFound("drug_not_found")
    if drug.controlled:
        raise Conflict("controlled_drug_not_online", drug=drug.generic_name_zh)
    row = await by_id(session, FormularyItem, (disease_id, drug_id))
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
    account = await by_id(session, Account, body.account_id)
    if account is None or account.role != Role.pharmacist:
        raise NotFound("pharmacist_not_found")
    if await by_id(session, Institution, body.institution_id) is None:
        raise NotFound("reviewer_institution_not_found")
    if await repository.on_store_staff(session, account.id):
        raise Conflict("reviewer_is_store_staff")
    row = await repository.reviewer(session, account.id)
    if row is None:
        try:
            # One reviewer row per pharmacist (unique account): of two registrations at once,
            # the second finds the first's row below instead of failing.
            async with session.begin_nested():
                row = PrescriptionReviewer(
                    account_id=account.id, institution_id=body.institution_id
                )
                session.add(row)
            return row
        except IntegrityError:
            row = await repository.reviewer(session, account.id)
            if row is None:
                raise
    # Registering again is a no-op; registering elsewhere would silently move the pharmacist
    # away from the institution they review for: that is an explicit, audited move
    # (POST /api/v1/staff/{account_id}/move).
    if row.institution_id != body.institution_id:
        raise Conflict("reviewer_at_other_institution")
    return row
