"""Bodies of the insurance endpoints; money in integer fen, times in Asia/Shanghai."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.insurance.claims import InsuranceType
from app.kit.bounded import NonNegativeInt64
from app.kit.clock import to_shanghai
from app.kit.time_bounds import CalendarDate
from app.models import (
    Presettlement,
    Settlement,
    SettlementFlag,
    SettlementItem,
    Statement,
)

InstitutionLevel = Literal["secondary", "tertiary"]
# Years 2000-2999: a month the calendar (and the database's timestamps) can hold whole.
Month = Field(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", description="YYYY-MM (Asia/Shanghai)")


class BenefitRuleCreate(BaseModel):
    """A new version of the rule for (insurance type, disease, institution level, year)."""

    model_config = ConfigDict(extra="forbid")

    insurance_type: InsuranceType
    disease_id: uuid.UUID
    institution_level: InstitutionLevel
    year: int = Field(ge=2020, le=2100)
    effective_from: date | None = Field(
        default=None, description="First day it applies (today or later); default today"
    )
    deductible_fen: int = Field(ge=0, le=10_000_000_00)
    reimbursement_bp: int = Field(ge=0, le=10_000, description="Fund ratio, basis points")
    partial_prepay_bp: int = Field(
        ge=0, le=10_000, description="Category-B drugs: patient pre-pays this share first"
    )
    annual_limit_fen: int = Field(ge=0, le=10_000_000_00)
    note: str = Field(default="", max_length=200)


class BenefitRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    insurance_type: InsuranceType
    disease_id: uuid.UUID
    institution_level: InstitutionLevel
    year: int
    version: int
    effective_from: date
    deductible_fen: int
    reimbursement_bp: int
    partial_prepay_bp: int
    annual_limit_fen: int
    note: str


class RuleRenewalOut(BaseModel):
    """One rule key at the turn of the year."""

    insurance_type: InsuranceType
    disease_id: uuid.UUID
    disease_code: str
    disease_name_zh: str
    institution_level: InstitutionLevel
    renewed: bool = Field(description="Whether the year has its own version yet")
    carried: BenefitRuleOut | None = Field(
        description="The version in force before the year, which stays in force until renewed"
    )
    own: BenefitRuleOut | None = Field(description="The year's own latest version, if any")


class RuleRenewals(BaseModel):
    """Which benefit rules have a version for `year` and which would be carried over."""

    year: int
    first_day: date
    days_left: int = Field(description="Days from today (Asia/Shanghai) to 1 January of year")
    missing: int = Field(description="Keys without a version for the year")
    keys: list[RuleRenewalOut] = Field(description="Missing keys first")


class SplitOut(BaseModel):
    """total = fund + personal; personal = account + cash (the cash share is paid at hand-over)."""

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


def _split(row: Presettlement | Settlement) -> dict[str, int]:
    return {name: getattr(row, name) for name in SplitOut.model_fields}


class QuoteLine(BaseModel):
    drug_id: uuid.UUID
    national_code: str
    name_zh: str
    quantity: int
    unit_price_fen: int
    amount_fen: int
    insurance_class: str
    self_pay_fen: int
    partial_prepay_fen: int


class SettlementQuote(SplitOut):
    """The split the patient sees for an order: the pre-settlement before hand-over (books
    nothing), the settlement once handed over (authoritative; `basis` says which)."""

    basis: Literal["presettlement", "settlement"] = Field(
        description="presettlement: the quote before hand-over; settlement: the split booked "
        "at hand-over (the quota may have changed in between)"
    )
    quote_id: uuid.UUID | None = Field(description="The latest pre-settlement, if any")
    settlement_id: uuid.UUID | None = Field(
        default=None, description="The settlement the split comes from (basis settlement)"
    )
    reversed: bool = Field(default=False, description="The settlement has been reversed")
    message_id: str
    order_id: uuid.UUID
    patient_id: uuid.UUID
    benefit_rule_id: uuid.UUID
    computed_at: datetime = Field(description="When the quote was computed or the order settled")
    lines: list[QuoteLine]

    @classmethod
    def from_row(cls, row: Presettlement) -> SettlementQuote:
        """Build from the stored quote."""
        return cls(
            basis="presettlement",
            quote_id=row.id,
            message_id=row.message_id,
            order_id=row.order_id,
            patient_id=row.patient_id,
            benefit_rule_id=row.benefit_rule_id,
            computed_at=to_shanghai(row.computed_at),
            lines=[QuoteLine.model_validate(line) for line in row.lines],
            **_split(row),
        )

    @classmethod
    def from_settlement(
        cls,
        row: Settlement,
        items: list[SettlementItem],
        reversal: Settlement | None,
        quote: Presettlement | None,
    ) -> SettlementQuote:
        """Build from the order's settlement and its lines (in line order)."""
        return cls(
            basis="settlement",
            quote_id=quote.id if quote else None,
            settlement_id=row.id,
            reversed=reversal is not None,
            message_id=row.message_id,
            order_id=row.order_id,
            patient_id=row.patient_id,
            benefit_rule_id=row.benefit_rule_id,
            computed_at=to_shanghai(row.settled_at),
            lines=[QuoteLine.model_validate(item, from_attributes=True) for item in items],
            **_split(row),
        )


class SettlementItemOut(QuoteLine):
    model_config = ConfigDict(from_attributes=True)

    line_no: int


class SettlementOut(SplitOut):
    id: uuid.UUID
    kind: Literal["settlement", "reversal"]
    message_id: str
    reverses_id: uuid.UUID | None
    reversed_by_id: uuid.UUID | None = None
    reason: str | None
    order_id: uuid.UUID
    patient_id: uuid.UUID
    institution_id: uuid.UUID
    store_id: uuid.UUID | None
    disease_id: uuid.UUID
    insurance_type: InsuranceType
    med_type: str
    benefit_rule_id: uuid.UUID
    year: int
    service_at: datetime
    settled_at: datetime
    items: list[SettlementItemOut] = Field(default_factory=list)

    @classmethod
    def from_row(
        cls,
        row: Settlement,
        items: list[SettlementItem] | None = None,
        reversed_by: Settlement | None = None,
    ) -> SettlementOut:
        """Build from a settlement or reversal row."""
        return cls(
            id=row.id,
            kind=row.kind,  # type: ignore[arg-type]
            message_id=row.message_id,
            reverses_id=row.reverses_id,
            reversed_by_id=reversed_by.id if reversed_by else None,
            reason=row.reason,
            order_id=row.order_id,
            patient_id=row.patient_id,
            institution_id=row.institution_id,
            store_id=row.store_id,
            disease_id=row.disease_id,
            insurance_type=row.insurance_type,  # type: ignore[arg-type]
            med_type=row.med_type,
            benefit_rule_id=row.benefit_rule_id,
            year=row.year,
            service_at=to_shanghai(row.service_at),
            settled_at=to_shanghai(row.settled_at),
            items=[SettlementItemOut.model_validate(i) for i in items or []],
            **_split(row),
        )


class SettlementPage(BaseModel):
    items: list[SettlementOut]
    next_before: datetime | None


class FlagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500)


class FlagOut(BaseModel):
    id: uuid.UUID
    settlement_id: uuid.UUID
    role: str
    reviewer_name: str
    reason: str
    flagged_at: datetime

    @classmethod
    def from_row(cls, row: SettlementFlag) -> FlagOut:
        """Build from a flag row."""
        return cls(
            id=row.id,
            settlement_id=row.settlement_id,
            role=row.role,
            reviewer_name=row.reviewer_name,
            reason=row.reason,
            flagged_at=to_shanghai(row.flagged_at),
        )


class FlaggedSettlement(BaseModel):
    flag: FlagOut
    settlement: SettlementOut


class FlaggedPage(BaseModel):
    items: list[FlaggedSettlement]
    next_before: datetime | None


class StatementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_id: uuid.UUID
    month: str = Month


class StatementPaymentCreate(BaseModel):
    """The bureau's payment to the institution for a confirmed statement."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: NonNegativeInt64
    reference: str = Field(min_length=1, max_length=64, description="Bank transfer reference")
    paid_on: CalendarDate


class BreakdownRow(BaseModel):
    disease_id: uuid.UUID
    disease_code: str
    insurance_type: InsuranceType
    settlement_count: int
    reversal_count: int
    total_fen: int
    fund_fen: int
    account_fen: int
    cash_fen: int


class StatementOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    month: str
    status: Literal["generated", "confirmed", "paid"]
    settlement_count: int
    reversal_count: int
    total_fen: int
    fund_fen: int
    account_fen: int
    cash_fen: int
    payable_fen: int = Field(description="What the bureau owes: fund share + account payments")
    breakdown: list[BreakdownRow]
    generated_at: datetime
    confirmed_at: datetime | None
    paid_fen: int | None
    paid_on: date | None
    payment_reference: str | None

    @classmethod
    def from_row(cls, row: Statement) -> StatementOut:
        """Build from a statement row."""
        return cls(
            id=row.id,
            institution_id=row.institution_id,
            month=row.month,
            status=row.status,  # type: ignore[arg-type]
            settlement_count=row.settlement_count,
            reversal_count=row.reversal_count,
            total_fen=row.total_fen,
            fund_fen=row.fund_fen,
            account_fen=row.account_fen,
            cash_fen=row.cash_fen,
            payable_fen=row.fund_fen + row.account_fen,
            breakdown=[BreakdownRow.model_validate(b) for b in row.breakdown],
            generated_at=to_shanghai(row.generated_at),
            confirmed_at=to_shanghai(row.confirmed_at) if row.confirmed_at else None,
            paid_fen=row.paid_fen,
            paid_on=row.paid_on,
            payment_reference=row.payment_reference,
        )


class StatementDetail(StatementOut):
    """The statement with every settlement and reversal it covers (the JSON export)."""

    lines: list[SettlementOut]


class StatementPage(BaseModel):
    items: list[StatementOut]


class Difference(BaseModel):
    kind: str
    settlement_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    expected_fen: int
    actual_fen: int
    difference_fen: int
    detail: str


class Reconciliation(BaseModel):
    statement_id: uuid.UUID
    month: str
    institution_id: uuid.UUID
    agrees: bool
    differences: list[Difference]
