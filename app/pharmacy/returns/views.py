"""Quality returns as their readers see them (a fixed number of queries for any number)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import QualityReturn
from app.pharmacy.returns import repository as returns_repository
from app.pharmacy.returns.schemas import (
    QualityReturnOut,
    ReturnRefundOut,
    ReturnReversalOut,
    ReturnTransitionOut,
)
from app.pharmacy.returns.states import ReturnStatus


async def present_returns(
    session: AsyncSession, rows: Sequence[QualityReturn]
) -> list[QualityReturnOut]:
    """Returns with their boxes, reversal, refunds and history."""
    ids = [row.id for row in rows]
    reversal_ids = [row.reversal_id for row in rows if row.reversal_id is not None]
    history = await returns_repository.history_of(session, ids)
    sold = await returns_repository.sold_codes_of(session, [row.order_id for row in rows])
    back = await returns_repository.codes_returned_with(session, ids)
    reversals = await returns_repository.reversals_by_id(session, reversal_ids)
    refunds = await returns_repository.refunds_of_reversals(session, reversal_ids)
    items = []
    for row in rows:
        reversal = reversals.get(row.reversal_id) if row.reversal_id is not None else None
        items.append(
            QualityReturnOut(
                id=row.id,
                order_id=row.order_id,
                patient_id=row.patient_id,
                store_id=row.store_id,
                status=ReturnStatus(row.status),
                reason=row.reason,
                opened_by_role=row.opened_by_role,
                codes_sold=sold.get(row.order_id, []),
                codes_returned=back.get(row.id, []),
                reversal=None
                if reversal is None
                else ReturnReversalOut(
                    settlement_id=reversal.id,
                    total_fen=reversal.total_fen,
                    fund_fen=reversal.fund_fen,
                    personal_fen=reversal.personal_fen,
                ),
                refunds=[
                    ReturnRefundOut.model_validate(refund)
                    for refund in refunds.get(reversal.id, [])
                ]
                if reversal is not None
                else [],
                history=[ReturnTransitionOut.model_validate(t) for t in history.get(row.id, [])],
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
        )
    return items
