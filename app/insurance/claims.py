"""What the order flow hands to settlement (a claim) and what it gets back (a split)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

InsuranceType = Literal["310", "390"]
InsuranceClass = Literal["full", "partial", "self_pay"]


class MedType(StrEnum):
    """National med_type: 14 outpatient chronic/special disease, 41 designated-pharmacy purchase."""

    outpatient_chronic = "14"
    pharmacy_purchase = "41"


class ClaimItem(BaseModel):
    """One drug line as priced and classed by the order flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    drug_id: uuid.UUID
    national_code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=64)
    quantity: int = Field(gt=0, le=10_000)
    unit_price_fen: int = Field(ge=0, le=100_000_000)
    insurance_class: InsuranceClass

    @property
    def amount_fen(self) -> int:
        """Quantity times unit price."""
        return self.quantity * self.unit_price_fen


class Claim(BaseModel):
    """A settlement request built server-side by the order flow (never by a client)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: uuid.UUID
    patient_id: uuid.UUID
    # The designated institution that advances the fund share and settles monthly.
    institution_id: uuid.UUID
    # The store that hands the drugs over (its couriers record cash/card payments).
    store_id: uuid.UUID | None = None
    disease_id: uuid.UUID
    insurance_type: InsuranceType
    # The verified insured identity bound to the entitlement the care rests on; settlement
    # refuses a claim without one, or whose patient's declaration disagrees with it.
    insured_identity_id: uuid.UUID | None = None
    med_type: MedType = MedType.outpatient_chronic
    # When the care was given: its year picks the benefit rule and the annual quota.
    moment: datetime
    items: tuple[ClaimItem, ...] = Field(min_length=1, max_length=200)
    # Employees (310) may pay part of the personal share from their personal account: the
    # balance the patient chose to use (settlement caps it at what the verified identity's
    # account still holds).
    personal_account_balance_fen: int = Field(default=0, ge=0)

    @field_validator("moment")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        return value

    @model_validator(mode="after")
    def _account_only_for_employees(self) -> Claim:
        if self.insurance_type == "390" and self.personal_account_balance_fen:
            raise ValueError("resident insurance (390) has no personal account")
        return self


@dataclass(frozen=True)
class LineSplit:
    """How one line divides before the ratio: what is self-paid and pre-paid by the patient."""

    amount_fen: int
    self_pay_fen: int
    partial_prepay_fen: int


@dataclass(frozen=True)
class Split:
    """The division of one claim in fen; see `calculation.split_claim` for the rules."""

    total_fen: int
    fund_fen: int
    personal_fen: int
    account_fen: int
    cash_fen: int
    self_pay_fen: int
    partial_prepay_fen: int
    deductible_fen: int
    copay_fen: int
    over_limit_fen: int
    limit_remaining_fen: int
    lines: tuple[LineSplit, ...]

    def amounts(self) -> dict[str, int]:
        """The split's amounts by column name (lines excluded)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lines"}
