"""Categories (大类) of the outpatient high-cost disease catalogue, keyed by the four-character
stem of the national chronic/special disease code (M016 for M016xx, diabetes)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class DiseaseCategory(Base):
    __tablename__ = "disease_categories"
    __table_args__ = (CheckConstraint("length(code) = 4", name="code_length"),)

    code: Mapped[str] = mapped_column(String(4), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(32), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
