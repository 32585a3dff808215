"""The outpatient high-cost (chronic/special) disease catalogue."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class ChronicDisease(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chronic_diseases"

    code: Mapped[str] = mapped_column(String(16), unique=True, nullable=False)  # local, M01603
    national_code: Mapped[str] = mapped_column(String(16), nullable=False)  # national, M01600
    category_code: Mapped[str] = mapped_column(
        String(4), ForeignKey("disease_categories.code"), nullable=False, index=True
    )
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    # Admitted by the online pilot (diabetes with complications, grade-3 very-high-risk HTN).
    online_admitted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
