"""Payment endpoints: courier hand-over, online payment, the patient's bill and receipts, and
the providers' (public, signature-verified) notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request, Response

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.errors import Forbidden
from app.insurance.schemas import SettlementOut
from app.kit.pagination import PageQuery
from app.models import Role, Settlement
from app.payment import refunds as refund_service
from app.payment import repository as payment_repository
from app.payment import service as payment_service
from app.payment.notifications import handle_alipay, handle_wechat, log_rejection
from app.payment.providers import NotificationRejected, PaymentGateway, get_gateway
from app.payment.schemas import (
    BillOut,
    HandOverPayment,
    OnlinePaymentCreate,
    OnlinePaymentOut,
    PaymentOut,
    ReceiptPage,
    RefundOut,
    RefundStatusName,
    StaffRefundOut,
    StaffRefundPage,
)

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])

CourierOnly = Annotated[Principal, require_roles(Role.courier)]
PatientOnly = Annotated[Principal, require_roles(Role.patient)]
StoreStaff = Annotated[Principal, require_roles(Role.courier, Role.pharmacist)]
RefundHandlers = Annotated[Principal, require_roles(Role.courier, Role.pharmacist, Role.admin)]
RefundRetriers = Annotated[Principal, require_roles(Role.pharmacist, Role.admin)]
Gateway = Annotated[PaymentGateway, Depends(get_gateway)]
PAYERS = frozenset({Role.patient, Role.courier})


async def _payable_settlement(
    settlement_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Settlement:
    # Resolved before the body is read, so someone else's settlement is 404 whatever is sent.
    if principal.role not in PAYERS:
        raise Forbidden()
    return await payment_service.visible_settlement(session, principal, settlement_id)


PayableSettlement = Annotated[Settlement, Depends(_payable_settlement)]


@router.post("/settlements/{settlement_id}/hand-over", response_model=PaymentOut, status_code=201)
async def record_hand_over(
    body: HandOverPayment,
    settlement: PayableSettlement,
    principal: CourierOnly,
    session: DbSession,
) -> PaymentOut:
    """The courier records cash or card taken at the door (retry-safe by collection id)."""
    payment = await payment_service.record_hand_over(session, principal, settlement, body)
    return PaymentOut.from_row(payment)


@router.post("/settlements/{settlement_id}/online", response_model=OnlinePaymentOut)
async def start_online_payment(
    body: OnlinePaymentCreate,
    settlement: PayableSettlement,
    principal: CurrentPrincipal,
    session: DbSession,
    gateway: Gateway,
) -> OnlinePaymentOut:
    """Open a WeChat Pay (mini-program) or Alipay (QR at the door) order for what is due."""
    started = await payment_service.start_online(
        session, principal, settlement, body.method, gateway
    )
    return OnlinePaymentOut(
        payment=PaymentOut.from_row(started.payment), client_params=started.client_params
    )


@router.get("/settlements/{settlement_id}/bill", response_model=BillOut)
async def get_bill(
    settlement: PayableSettlement, principal: CurrentPrincipal, session: DbSession
) -> BillOut:
    """The itemised bill: drug lines, the split, payments and refunds."""
    bill = await payment_service.bill(session, principal, settlement)
    return BillOut(
        settlement=SettlementOut.from_row(bill.settlement, list(bill.items), bill.reversal),
        due_fen=bill.due_fen,
        collected_fen=bill.collected_fen,
        outstanding_fen=bill.due_fen - bill.collected_fen,
        payments=[PaymentOut.from_row(p, bill.refunded.get(p.id, 0)) for p in bill.payments],
        refunds=[RefundOut.from_row(r) for r in bill.refunds],
    )


@router.get("/receipts", response_model=ReceiptPage)
async def list_receipts(
    principal: PatientOnly,
    session: DbSession,
    page: PageQuery,
) -> ReceiptPage:
    """The patient's receipts (paid payments), newest first."""
    resume = page.after(datetime)
    payments, refunded = await payment_service.receipts(
        session, principal, resume[0] if resume else None, page.limit
    )
    rows = [(p.created_at, PaymentOut.from_row(p, refunded.get(p.id, 0))) for p in payments]
    found = page.page(rows, lambda r: (r[0],))
    return ReceiptPage(items=[out for _, out in found.items], next=found.next)


@router.get("/refunds", response_model=StaffRefundPage)
async def list_refunds(
    principal: RefundHandlers,
    session: DbSession,
    page: PageQuery,
    status: Annotated[list[RefundStatusName] | None, Query()] = None,
) -> StaffRefundPage:
    """Refunds of the caller's store (admins: all), newest first; by default the ones that
    need a person: failed, and cash or card still to hand back."""
    resume = page.after(datetime)
    found = page.page(
        await payment_repository.list_visible_refunds(
            session,
            principal,
            status or ["failed", "requested", "processing"],
            resume[0] if resume else None,
            page.limit,
        ),
        lambda row: (row[0].created_at,),
    )
    rows = found.items
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        refund_service.RESOURCE,
        [(r.id, s.patient_id) for r, _, s in rows],
    )
    return StaffRefundPage(items=[StaffRefundOut.of(r, p, s) for r, p, s in rows], next=found.next)


@router.post("/refunds/{refund_id}/hand-back", response_model=RefundOut)
async def hand_back_refund(
    refund_id: uuid.UUID, principal: StoreStaff, session: DbSession
) -> RefundOut:
    """The courier (or a pharmacist at the counter) gave a cash or card refund back to the
    patient: the refund succeeds and is booked (a retry changes nothing)."""
    return RefundOut.from_row(await refund_service.hand_back(session, principal, refund_id))


@router.post("/refunds/{refund_id}/retry", response_model=RefundOut, status_code=201)
async def retry_refund(
    refund_id: uuid.UUID, principal: RefundRetriers, session: DbSession
) -> RefundOut:
    """Try a failed refund again: a new refund of the same amount (once; a repeat returns it)."""
    return RefundOut.from_row(await refund_service.retry(session, principal, refund_id))


# The providers' notification protocols fix these answers (both retry on anything else).
_WECHAT_REFUSAL: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Refused: WeChat Pay's failure body (it retries later)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"code": {"const": "FAIL"}, "message": {"type": "string"}},
                    "required": ["code", "message"],
                }
            }
        },
    }
}
_ALIPAY_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "`success`, or `failure` when refused (Alipay retries later)",
        "content": {"text/plain": {"schema": {"type": "string", "enum": ["success", "failure"]}}},
    }
}


@router.post("/notify/wechat", status_code=204, response_class=Response, responses=_WECHAT_REFUSAL)
async def wechat_notification(request: Request, session: DbSession, gateway: Gateway) -> Response:
    """WeChat Pay v3 notification (public; verified by the platform signature)."""
    body = await request.body()
    try:
        await handle_wechat(session, gateway, request.headers, body)
    except NotificationRejected as exc:
        log_rejection("wechat", exc)
        return Response(
            content=b'{"code":"FAIL","message":"rejected"}',
            status_code=400,
            media_type="application/json",
        )
    return Response(status_code=204)


@router.post("/notify/alipay", response_class=Response, responses=_ALIPAY_ANSWER)
async def alipay_notification(request: Request, session: DbSession, gateway: Gateway) -> Response:
    """Alipay asynchronous notification (public; verified by RSA2); answers 'success'."""
    # Form-encoded, UTF-8 (charset=utf-8 is what we request); parsed with the standard library.
    params = dict(
        parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    )
    try:
        await handle_alipay(session, gateway, params)
    except NotificationRejected as exc:
        log_rejection("alipay", exc)
        return Response(content="failure", media_type="text/plain")
    return Response(content="success", media_type="text/plain")
