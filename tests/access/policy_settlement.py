"""Access policy of insurance settlement and payment: patients see only their own, store staff
their store's, doctors their patients', the bureau settlement data; provider notifications are
public and verified by signature instead."""

from __future__ import annotations

import uuid

from app.insurance import settlement as settlement_service
from app.kit.clock import utcnow
from app.models import Payment, PaymentRefund, Role
from tests.access.rules import ALL, PUBLIC, Rule, only
from tests.insurance import world as w

BUREAU = Rule(only(Role.bureau))
# Readers scoped to their own rows; the bureau is left out because it sees every settlement.
SCOPED_READERS = Rule(only(Role.patient, Role.doctor, Role.courier, Role.pharmacist), hidden=True)
PAYERS = Rule(only(Role.patient, Role.courier), hidden=True)

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/insurance/benefit-rules"): Rule(ALL),
    ("POST", "/api/v1/insurance/benefit-rules"): BUREAU,
    ("GET", "/api/v1/insurance/benefit-rules/renewals"): BUREAU,
    ("GET", "/api/v1/insurance/orders/{order_id}/quote"): Rule(only(Role.patient), hidden=True),
    ("GET", "/api/v1/insurance/settlements"): Rule(
        only(Role.patient, Role.doctor, Role.courier, Role.pharmacist)
    ),
    ("GET", "/api/v1/insurance/settlements/{settlement_id}"): SCOPED_READERS,
    # Doctors only for their patients' settlements; the bureau for any. A valid reason, so the
    # scope check (after body validation) is what answers.
    ("POST", "/api/v1/insurance/settlements/{settlement_id}/flags"): Rule(
        only(Role.doctor, Role.bureau),
        hidden=True,
        sees_all=only(Role.bureau),
        body={"reason": "疑似重复结算"},
    ),
    ("POST", "/api/v1/insurance/settlements/{settlement_id}/review"): Rule(
        only(Role.bureau), body={"decision": "confirmed", "note": "审核通过"}
    ),
    ("GET", "/api/v1/insurance/flags"): BUREAU,
    ("POST", "/api/v1/insurance/statements"): BUREAU,
    ("GET", "/api/v1/insurance/statements"): BUREAU,
    ("GET", "/api/v1/insurance/statements/{statement_id}"): BUREAU,
    ("GET", "/api/v1/insurance/statements/{statement_id}/export.csv"): BUREAU,
    ("GET", "/api/v1/insurance/statements/{statement_id}/export.xlsx"): BUREAU,
    ("POST", "/api/v1/insurance/statements/{statement_id}/confirm"): BUREAU,
    ("POST", "/api/v1/insurance/statements/{statement_id}/payment"): BUREAU,
    ("POST", "/api/v1/insurance/statements/{statement_id}/recovery"): Rule(
        only(Role.bureau), body={"amount_fen": 1, "reference": "TH-1", "paid_on": "2026-04-01"}
    ),
    ("GET", "/api/v1/insurance/statements/{statement_id}/reconciliation"): BUREAU,
    ("POST", "/api/v1/insurance/statements/{statement_id}/platform-reconciliation"): BUREAU,
    ("POST", "/api/v1/insurance/ledger/corrections"): Rule(
        only(Role.bureau), body={"transaction_id": str(uuid.uuid4()), "reason": "重复拨付"}
    ),
    ("GET", "/api/v1/insurance/ledger/transactions"): BUREAU,
    ("POST", "/api/v1/payments/settlements/{settlement_id}/hand-over"): Rule(
        only(Role.courier), hidden=True
    ),
    ("POST", "/api/v1/payments/settlements/{settlement_id}/online"): PAYERS,
    ("GET", "/api/v1/payments/settlements/{settlement_id}/bill"): PAYERS,
    ("GET", "/api/v1/payments/receipts"): Rule(only(Role.patient)),
    # Refunds: store staff handle their store's, admins every one (retries only).
    ("GET", "/api/v1/payments/refunds"): Rule(only(Role.courier, Role.pharmacist, Role.admin)),
    ("POST", "/api/v1/payments/refunds/{refund_id}/hand-back"): Rule(
        only(Role.courier, Role.pharmacist), hidden=True
    ),
    ("POST", "/api/v1/payments/refunds/{refund_id}/retry"): Rule(
        only(Role.pharmacist, Role.admin), hidden=True, sees_all=only(Role.admin)
    ),
    ("POST", "/api/v1/payments/notify/wechat"): PUBLIC,
    ("POST", "/api/v1/payments/notify/alipay"): PUBLIC,
}


async def foreign_ids(session) -> dict[str, str]:
    """A stranger's quoted and settled order at a store none of the callers work at."""
    world = await w.build(session)
    patient = await w.patient(session)
    claim = w.claim(world, patient, [(world.full, 2)])
    await settlement_service.presettle(session, claim)
    settlement = await settlement_service.settle(session, claim, w.message_id())
    # Paid in cash, then a refund that failed (so an admin's retry is a real one).
    payment = Payment(
        settlement_id=settlement.id,
        patient_id=patient.id,
        method="cash",
        amount_fen=max(settlement.cash_fen, 1),
        status="succeeded",
        out_trade_no=f"H{uuid.uuid4().hex}",
    )
    session.add(payment)
    await session.flush()
    refund = PaymentRefund(
        payment_id=payment.id,
        amount_fen=payment.amount_fen,
        out_refund_no=f"R{uuid.uuid4().hex}",
        status="failed",
        reason="overpaid",
        failed_at=utcnow(),
        failure_reason="patient not reached",
    )
    session.add(refund)
    await session.flush()
    return {
        "order_id": str(claim.order_id),
        "settlement_id": str(settlement.id),
        "statement_id": str(uuid.uuid4()),
        "refund_id": str(refund.id),
    }
