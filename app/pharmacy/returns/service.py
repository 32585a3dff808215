"""Quality returns: the rules. Callers resolve the return (or order) through the caller's scope
and the route admits only the role that may take the step (see `states.ACTOR_OF`).

- Opened on a handed-over order (delivered or completed) within `quality_return_window_days`
  of hand-over, by its patient or a pharmacist of its store; one open or completed return per
  order (a partial unique index backs the check).
- Boxes come back while the return is accepted: each code must have been sold on the order;
  a code already back is a duplicate. They are recorded as `returned` facts in the boxes'
  append-only history and stay sold: a box returned for a quality problem never goes back on
  the shelf.
- Completing needs every box back; it reverses the order's settlement (fund share and quota
  restored) and the reversal refunds what the patient paid through the payment refund path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import PharmacyOrder, QualityReturn, QualityReturnTransition
from app.pharmacy import orders
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery import settlement_link
from app.pharmacy.delivery.service import box_fact
from app.pharmacy.delivery.states import HANDED_OVER_STATES, Actor, OrderStatus
from app.pharmacy.returns import repository as returns_repository
from app.pharmacy.returns.states import RECEIVING, RETURN_MACHINE, ReturnStatus

RESOURCE = "quality_return"


async def _record(
    session: AsyncSession,
    row: QualityReturn,
    source: ReturnStatus | None,
    target: ReturnStatus,
    principal: Principal,
    note: str | None,
    key: str | None,
) -> None:
    session.add(
        QualityReturnTransition(
            return_id=row.id,
            from_status=source,
            to_status=target,
            actor_account_id=principal.account_id,
            actor_role=str(principal.role),
            actor_name=principal.display_name[:64],
            at=utcnow(),
            note=None if note is None else note[:500],
            idempotency_key=key,
        )
    )
    await session.flush()


async def open_return(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    order_id: uuid.UUID,
    reason: str,
    key: str | None,
) -> QualityReturn:
    """Open a quality return on a handed-over order (a retried key returns the first one)."""
    order = await orders.get_order(session, principal, order_id, lock=True)
    if key is not None:
        existing = await returns_repository.by_key(session, order.id, key)
        if existing is not None:
            return existing
    if OrderStatus(order.status) not in HANDED_OVER_STATES:
        raise Conflict("quality_return_not_handed_over", status=order.status)
    handed_over_at = await delivery_repository.handed_over_at(session, order.id)
    window = timedelta(days=settings.quality_return_window_days)
    if handed_over_at is None or utcnow() > handed_over_at + window:
        raise Conflict("quality_return_window_closed", days=settings.quality_return_window_days)
    if await returns_repository.live_of_order(session, order.id) is not None:
        raise Conflict("quality_return_exists")
    now = utcnow()
    row = QualityReturn(
        order_id=order.id,
        patient_id=order.patient_id,
        store_id=order.store_id,
        status=ReturnStatus.requested,
        reason=reason,
        opened_by_role=str(principal.role),
        opened_by_account_id=principal.account_id,
        idempotency_key=key,
        updated_at=now,
    )
    try:
        # The order row is locked, so this only trips on a return opened outside that lock.
        async with session.begin_nested():
            session.add(row)
    except IntegrityError as exc:
        raise Conflict("quality_return_exists") from exc
    await _record(session, row, None, ReturnStatus.requested, principal, reason, key)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, row.id, row.patient_id
    )
    return row


async def get_return(
    session: AsyncSession, principal: Principal, return_id: uuid.UUID, *, lock: bool = False
) -> QualityReturn:
    """A return the caller may see (audited read), else 404."""
    row = await returns_repository.get_visible(session, principal, return_id, lock=lock)
    if row is None:
        raise NotFound()
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, row.id, row.patient_id
    )
    return row


async def list_returns(
    session: AsyncSession,
    principal: Principal,
    statuses: Sequence[str],
    order_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[QualityReturn]:
    """The caller's returns, newest first (each an audited read)."""
    rows = await returns_repository.list_visible(
        session, principal, statuses, order_id, limit, after
    )
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(r.id, r.patient_id) for r in rows]
    )
    return rows


async def move(
    session: AsyncSession,
    principal: Principal,
    row: QualityReturn,
    target: ReturnStatus,
    note: str | None,
    key: str | None,
) -> bool:
    """Move the return if the machine allows it (else 409, nothing changed); False, with
    nothing changed, when `key` was already used on this return."""
    if key is not None and await returns_repository.transition_with_key(session, row.id, key):
        return False
    source = ReturnStatus(row.status)
    RETURN_MACHINE.check(source, target)
    if target in (ReturnStatus.rejected, ReturnStatus.withdrawn) and (
        await delivery_repository.returned_codes(session, row.order_id)
    ):
        raise Conflict("quality_return_boxes_received")
    await _record(session, row, source, target, principal, note, key)
    row.status = target
    row.updated_at = utcnow()
    await session.flush()
    return True


@dataclass(frozen=True)
class BoxResult:
    """Per returned box: accepted, duplicate (already back) or rejected with a reason."""

    code: str
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = None


async def check_in_boxes(
    session: AsyncSession, principal: Principal, row: QualityReturn, codes: Sequence[str]
) -> list[BoxResult]:
    """Record boxes that came back, per box: each must have been sold on the order."""
    status = ReturnStatus(row.status)
    if status not in RECEIVING:
        raise Conflict("quality_return_not_receiving", status=status)
    sold = {box.code: box for box in await returns_repository.sold_boxes(session, row.order_id)}
    back = await delivery_repository.returned_codes(session, row.order_id)
    actor = Actor.of(principal)
    now = utcnow()
    results: list[BoxResult] = []
    facts = []
    for code in codes:
        if code in back:
            results.append(BoxResult(code, "duplicate"))
        elif code not in sold:
            results.append(BoxResult(code, "rejected", "code_not_in_order"))
        else:
            back.add(code)
            facts.append(box_fact(sold[code], "returned", actor, now, row.reason, row.id))
            results.append(BoxResult(code, "accepted"))
    await delivery_repository.add_box_events(session, facts)
    if facts:
        row.updated_at = now
        await session.flush()
    return results


async def complete(
    session: AsyncSession,
    principal: Principal,
    row: QualityReturn,
    note: str | None,
    key: str | None,
) -> None:
    """Every box is back: reverse the settlement (which refunds the patient) and close."""
    if key is not None and await returns_repository.transition_with_key(session, row.id, key):
        return
    RETURN_MACHINE.check(ReturnStatus(row.status), ReturnStatus.completed)
    sold = {box.code for box in await returns_repository.sold_boxes(session, row.order_id)}
    back = await delivery_repository.returned_codes(session, row.order_id)
    missing = len(sold - back)
    if missing:
        raise Conflict("quality_return_boxes_missing", extra={"missing": missing}, missing=missing)
    order = await by_id(session, PharmacyOrder, row.order_id, for_update=True)
    assert order is not None
    reversal = await settlement_link.reverse_for_return(
        session, order, row.id, f"quality_return: {row.reason}"[:200]
    )
    row.reversal_id = None if reversal is None else reversal.id
    await move(session, principal, row, ReturnStatus.completed, note, key)
