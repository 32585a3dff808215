"""Failed password sign-ins per username: the lockout with back-off every process agrees on.

Keyed by the username as typed (case-folded), whether or not an account has it, so a locked
username and an unknown one answer alike. Rows whose last failure is older than
PASSWORD_FAILURE_MEMORY_SECONDS are forgotten (and purged by the periodic jobs).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class SignInFailure(Base):
    __tablename__ = "sign_in_failures"
    __table_args__ = (CheckConstraint("failures > 0", name="failures_positive"),)

    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Failures in a row (a success deletes the row; a long pause forgets them).
    failures: Mapped[int] = mapped_column(Integer, nullable=False)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
