"""One notification's delivery to a person: the channel, the grant it holds, the outcome.

Keyed by the outbox message's idempotency key, so a redelivered message finds the grant it
already reserved instead of spending a second one, and a sent one is not sent again. WeChat's
refusals (43101) and quota errors are kept here as outcomes; addresses never are.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.clock import utcnow
from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt


class PushChannel(StrEnum):
    wechat = "wechat"
    sms = "sms"
    # Neither: no grant and no SMS for this kind, or no address.
    none = "none"


class PushDeliveryStatus(StrEnum):
    # A grant (WeChat) or an attempt (SMS) is held by a delivery still in progress.
    reserved = "reserved"
    # An SMS is being handed to Tencent Cloud: recorded (committed) before the call, so a relay
    # that dies before recording the outcome leaves this behind, never a second message.
    sending = "sending"
    # A delivery found `sending` by a redelivery (or whose call broke off after the request
    # left): it may have gone out, so it is not sent again; Tencent's delivery report, pulled
    # by its SessionContext (our idempotency key), settles it as sent or failed.
    unknown = "unknown"
    sent = "sent"
    # WeChat 43101: the person has not (or no longer) subscribed to the template.
    refused = "refused"
    # Final errors: quota reached, template or data refused, SMS refused.
    failed = "failed"
    skipped = "skipped"


class PushDelivery(CreatedAt, Base):
    __tablename__ = "push_deliveries"
    __table_args__ = (
        CheckConstraint("channel IN ('wechat','sms','none')", name="channel"),
        CheckConstraint(
            "status IN ('reserved','sending','unknown','sent','refused','failed','skipped')",
            name="status",
        ),
        Index("ix_push_deliveries_account_id", "account_id"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    channel: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The WeChat template whose grant this delivery holds (None for SMS and none).
    template_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
