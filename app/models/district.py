"""Administrative districts and counties of the pilot city (GB/T 2260 codes)."""

from __future__ import annotations

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class District(Base):
    __tablename__ = "districts"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(32), nullable=False)
    name_en: Mapped[str] = mapped_column(String(64), nullable=False)
    is_county: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    is_mountainous: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
