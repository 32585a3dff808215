"""What passed between the service and the national medical insurance information platform.

`PlatformMessage` keeps every envelope sent and every answer (or failure) received, for audit:
append-only, one row per direction and attempt. The bodies carry certificate numbers and names,
so they are stored encrypted whole; the columns beside them (transaction number, message id,
result code) are what an auditor searches by. `PlatformSignIn` is the sign-in number (9001) in
force, shared by every process through the database. `PlatformSettlement` is the platform's
settlement (2207) or reversal (2208) of a local one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import EncryptedString, UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

# request: the envelope as sent; answer: the platform's answer as received; failure: no answer
# (timeout, connection error, or something that was not an answer), with what happened.
MESSAGE_DIRECTIONS = ("request", "answer", "failure")


class PlatformMessage(UUIDPrimaryKey, CreatedAt, Base):
    """One envelope out, or one answer (or failure) in; the body encrypted."""

    __tablename__ = "insurance_platform_messages"
    __table_args__ = (
        CheckConstraint("direction IN ('request','answer','failure')", name="direction"),
        # A message id is sent once per attempt: a new message never reuses another's id, a
        # re-send of the same message (a lost answer) is its next attempt.
        UniqueConstraint("msgid", "direction", "attempt", name="uq_insurance_platform_messages"),
        Index("ix_insurance_platform_messages_infno_at", "infno", "at"),
    )

    # Sender's message id: institution code + yyyyMMddHHmmss + 4-digit sequence (30).
    msgid: Mapped[str] = mapped_column(String(30), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # Transaction number (交易编号), e.g. 9001 sign-in, 1101 person query.
    infno: Mapped[str] = mapped_column(String(4), nullable=False)
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The answer's result code (0 success, negative refused) and the platform's own message id.
    infcode: Mapped[int | None] = mapped_column(Integer)
    inf_refmsgid: Mapped[str | None] = mapped_column(String(64))
    # What the message is about, for finding it again: the order a settlement message settles,
    # the message id a void (2601) undoes. Never personal.
    subject: Mapped[str | None] = mapped_column(String(64), index=True)
    # The whole envelope or answer as JSON (or what failed), encrypted.
    body: Mapped[str] = mapped_column(EncryptedString(), nullable=False)


class PlatformSignIn(UUIDPrimaryKey, CreatedAt, Base):
    """A sign-in number the platform issued to an operator of this institution for a day."""

    __tablename__ = "insurance_platform_sign_ins"
    __table_args__ = (
        # One sign-in per operator and generation: processes racing to renew agree on one.
        UniqueConstraint(
            "fixmedins_code", "opter", "sign_date", "generation", name="uq_platform_sign_ins"
        ),
    )

    fixmedins_code: Mapped[str] = mapped_column(String(12), nullable=False)
    opter: Mapped[str] = mapped_column(String(30), nullable=False)
    # The Asia/Shanghai calendar day it was issued on; the number lapses with the day.
    sign_date: Mapped[date] = mapped_column(Date, nullable=False)
    # Renewals within one day (on expiry by age) count up from 1.
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    sign_no: Mapped[str] = mapped_column(String(30), nullable=False)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    msgid: Mapped[str] = mapped_column(String(30), nullable=False)


class PlatformSettlement(UUIDPrimaryKey, CreatedAt, Base):
    """The platform's side of one local settlement or reversal: its settlement id and its
    split, which are the truth and what the settlement row books; the local rules' split is
    the estimate kept beside it (`estimate_*`) and compared with it."""

    __tablename__ = "insurance_platform_settlements"
    __table_args__ = (
        CheckConstraint("kind IN ('settlement','reversal')", name="kind"),
        UniqueConstraint("settlement_id", name="uq_insurance_platform_settlements_settlement"),
    )

    # The local row (insurance_settlements) this is the platform's answer for.
    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # The message that settled (2207) or reversed (2208) it.
    msgid: Mapped[str] = mapped_column(String(30), nullable=False)
    setl_id: Mapped[str] = mapped_column(String(30), nullable=False)
    mdtrt_id: Mapped[str] = mapped_column(String(30), nullable=False)
    # 人员编号: the person's number on the platform (personal, encrypted).
    psn_no: Mapped[str] = mapped_column(EncryptedString(255), nullable=False)
    # The platform's split in fen: medfee_sumamt, fund_pay_sumamt, acct_pay, psn_cash_pay.
    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fund_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    account_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cash_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The local rules' estimate of the same claim (the settlement row books the platform's).
    estimate_fund_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    estimate_account_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    estimate_cash_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Platform minus local estimate of the fund share; non-zero means the local rules table
    # disagrees with the platform's (a flag for the bureau; the platform's is what is booked).
    fund_difference_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
