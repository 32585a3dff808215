"""Where the drug order meets insurance: the patient sees the split when ordering (pre-
settlement), hand-over settles it, and a completed quality return reverses it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.insurance.claims import Claim, ClaimItem
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import (
    Patient,
    PharmacyOrder,
    Prescription,
    Settlement,
)
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery.facts import OrderTransitioned


async def claim_of(session: AsyncSession, order: PharmacyOrder) -> Claim:
    """The claim an order makes on the patient's insurance, priced from its prescription."""
    prescription = await by_id(session, Prescription, order.prescription_id)
    patient = await by_id(session, Patient, order.patient_id)
    assert prescription is not None and patient is not None
    rows = await delivery_repository.claim_lines(session, order.id)
    return Claim(
        order_id=order.id,
        patient_id=patient.id,
        institution_id=prescription.institution_id,
        store_id=order.store_id,
        disease_id=prescription.disease_id,
        insurance_type=patient.insurance_type,
        moment=utcnow(),
        items=tuple(
            ClaimItem(
                drug_id=drug.id,
                national_code=drug.national_code,
                name_zh=drug.generic_name_zh,
                quantity=line.packs,
                unit_price_fen=unit_price_fen,
                insurance_class=drug.insurance_class,
            )
            for line, unit_price_fen, drug in rows
        ),
    )


async def presettle_order(session: AsyncSession, order: PharmacyOrder) -> None:
    """Store the split the patient sees before the drugs leave the store."""
    await settlement_service.presettle(
        session, await claim_of(session, order), message_id=f"quote-{order.id}"
    )


async def settle_at_hand_over(session: AsyncSession, event: OrderTransitioned) -> None:
    """Settle at hand-over. (Nothing after hand-over fails an order; the one way back is a
    quality return, `reverse_for_return`.)"""
    if event.target == "delivered":
        order = event.order
        await settlement_service.settle(
            session, await claim_of(session, order), message_id=f"settle-{order.id}"
        )


async def reverse_for_return(
    session: AsyncSession, order: PharmacyOrder, return_id: uuid.UUID, reason: str
) -> Settlement | None:
    """Reverse the order's settlement because its boxes came back in a quality return: the
    fund share and the quota are restored and `insurance.settlement.reverse` refunds what the
    patient paid through the payment refund path. None when nothing was settled."""
    settled = await insurance_repository.unreversed_settlement_of_order(session, order.id)
    if settled is None:
        return None
    return await settlement_service.reverse(
        session, settled.id, reason, message_id=f"return-{return_id.hex}"
    )
