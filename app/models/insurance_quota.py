"""Per patient and year: the deductible met and, per disease, the annual limit used.

The patient-year row is the lock every settlement and reversal of that patient and year takes
(SELECT ... FOR UPDATE), so concurrent settlements cannot overrun the limit. The counters are a
running summary of the ledger's quota accounts, which remain the record.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class InsuranceQuota(Base):
    __tablename__ = "insurance_quotas"
    __table_args__ = (CheckConstraint("deductible_met_fen >= 0", name="deductible_met"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    deductible_met_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class InsuranceQuotaDisease(Base):
    __tablename__ = "insurance_quota_diseases"
    __table_args__ = (CheckConstraint("limit_used_fen >= 0", name="limit_used"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), primary_key=True
    )
    limit_used_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
