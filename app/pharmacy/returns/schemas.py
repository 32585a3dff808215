"""Request and response shapes of quality returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.pharmacy.delivery.schemas import TRACEABILITY_CODE
from app.pharmacy.returns.states import ReturnStatus


class QualityReturnCreate(BaseModel):
    """What is wrong with the drugs (药品质量问题), in the opener's words."""

    reason: str = Field(min_length=1, max_length=500)


class ReturnNoteIn(BaseModel):
    """An optional note on a step (accept, withdraw, complete)."""

    note: str | None = Field(default=None, max_length=500)


class ReturnRejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class ReturnBoxesIn(BaseModel):
    """The traceability codes of the boxes the patient brought back, one per box."""

    codes: list[Annotated[str, Field(pattern=TRACEABILITY_CODE)]] = Field(
        min_length=1, max_length=200
    )


class ReturnBoxOut(BaseModel):
    """Per box: accepted (checked back in), duplicate (already back), or rejected with a
    reason (`code_not_in_order`) and a translated message."""

    code: str
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str | None
    message: str | None


class ReturnTransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor_role: str
    actor_name: str
    at: datetime
    note: str | None


class ReturnRefundOut(BaseModel):
    """A refund the payment path made for the reversal (its own status: requested until the
    provider or the courier confirms it)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    amount_fen: int
    status: str


class ReturnReversalOut(BaseModel):
    """The reversal of the order's settlement (negative amounts)."""

    settlement_id: uuid.UUID
    total_fen: int
    fund_fen: int
    personal_fen: int


class QualityReturnOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID
    store_id: uuid.UUID
    status: ReturnStatus
    reason: str
    opened_by_role: str
    # The boxes sold on the order, and those checked back in so far.
    codes_sold: list[str]
    codes_returned: list[str]
    reversal: ReturnReversalOut | None
    refunds: list[ReturnRefundOut]
    history: list[ReturnTransitionOut]
    created_at: datetime
    updated_at: datetime


class QualityReturnPage(Page[QualityReturnOut]):
    """A page of quality returns, newest first."""


class ReturnBoxesOut(BaseModel):
    items: list[ReturnBoxOut]
    complete: bool
    quality_return: QualityReturnOut
