"""Accounts: one per person who signs in, whatever their role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Role(StrEnum):
    patient = "patient"
    doctor = "doctor"
    pharmacist = "pharmacist"
    courier = "courier"
    bureau = "bureau"
    admin = "admin"


STAFF_ROLES = frozenset(Role) - {Role.patient}


class Account(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "role IN ('patient','doctor','pharmacist','courier','bureau','admin')", name="role"
        ),
        # Patients sign in through WeChat, staff with a password: each has its credential.
        CheckConstraint(
            "(role = 'patient' AND wechat_openid IS NOT NULL) OR "
            "(role <> 'patient' AND username IS NOT NULL AND password_hash IS NOT NULL)",
            name="credential",
        ),
        # The assignment engine's candidate query joins doctors to their active accounts:
        # this small index spares it a scan of every (mostly patient) account.
        Index(
            "ix_accounts_active_doctors",
            "id",
            sqlite_where=text("role = 'doctor' AND is_active IS TRUE"),
            postgresql_where=text("role = 'doctor' AND is_active IS TRUE"),
        ),
    )

    role: Mapped[str] = mapped_column(String(16), nullable=False)
    display_name: Mapped[str] = mapped_column(String(64), nullable=False)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
