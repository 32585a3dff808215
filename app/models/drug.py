"""The drug catalogue with national insurance drug codes."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Drug(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "drugs"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price_non_negative"),
        CheckConstraint("insurance_class IN ('full','partial','self_pay')", name="insurance_class"),
    )

    national_code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    generic_name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    generic_name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    product_name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    form: Mapped[str] = mapped_column(String(32), nullable=False)
    strength: Mapped[str] = mapped_column(String(32), nullable=False)
    pack: Mapped[str] = mapped_column(String(32), nullable=False)
    manufacturer_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    price_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # full = category A (fully covered), partial = category B (co-pay first), self_pay = none.
    insurance_class: Mapped[str] = mapped_column(String(16), nullable=False)
    cold_chain: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    controlled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
