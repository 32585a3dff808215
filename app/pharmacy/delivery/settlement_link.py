"""Where the drug order meets insurance: the patient sees the split when ordering (pre-
settlement), hand-over settles it, and a completed quality return reverses it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.identity import service as identity_service
from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.insurance.claims import Claim, ClaimItem
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.metrics.counters import count_settlement
from app.models import (
    Entitlement,
    PharmacyOrder,
    Prescription,
    Settlement,
)
from app.pharmacy.delivery import repository as delivery_repository


async def claim_of(session: AsyncSession, order: PharmacyOrder) -> Claim:
    """The claim an order makes on the patient's insurance, priced from its prescription and
    made with the insured identity verified for the prescription's entitlement (never the
    patient's profile): 409 insured_identity_unverified without one."""
    prescription = await by_id(session, Prescription, order.prescription_id)
    assert prescription is not None
    entitlement = await by_id(session, Entitlement, prescription.entitlement_id)
    assert entitlement is not None
    identity = await identity_service.identity_of_entitlement(session, entitlement)
    balance = 0
    if order.pay_from_personal_account:
        if not identity.personal_account:
            raise Conflict("personal_account_unavailable")
        balance = await identity_service.account_available_fen(session, identity)
    rows = await delivery_repository.claim_lines(session, order.id)
    return Claim(
        order_id=order.id,
        patient_id=order.patient_id,
        institution_id=prescription.institution_id,
        store_id=order.store_id,
        disease_id=prescription.disease_id,
        insurance_type=identity.insurance_type,
        insured_identity_id=identity.id,
        personal_account_balance_fen=balance,
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


async def settle_at_hand_over(
    session: AsyncSession,
    order: PharmacyOrder,
    on_platform: settlement_service.SettleOnPlatform | None = None,
) -> Settlement:
    """Settle a handed-over order (on the insurance platform first, where `on_platform` is
    given). Nothing after hand-over fails an order; the one way back is a quality return,
    `reverse_for_return`."""
    settled = await settlement_service.settle(
        session, await claim_of(session, order), f"settle-{order.id}", on_platform
    )
    count_settlement(session, settled)
    return settled


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
