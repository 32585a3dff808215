"""Bodies of the insurance endpoints; money in integer fen, times in Asia/Shanghai."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.i18n import translate
from app.insurance.claims import InsuranceType
from app.kit.bounded import NonNegativeInt64
from app.kit.clock import to_shanghai
from app.kit.money import fen_to_yuan
from app.kit.pagination import Page
from app.kit.time_bounds import CalendarDate
from app.models import (
    FlagReview,
    LedgerCorrection,
    LedgerEntry,
    PlatformSettlement,
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


class PlatformQuote(BaseModel):
    """The insurance platform's pre-settlement (2206) of the quote, beside the local estimate."""

    status: Literal["presettled", "unavailable"] = Field(
        description="presettled: the platform's split below; unavailable: the platform did not "
        "answer, the quote is the local estimate only"
    )
    total_fen: int | None
    fund_fen: int | None
    account_fen: int | None
    cash_fen: int | None
    fund_difference_fen: int | None = Field(
        description="The platform's fund share minus the local estimate's"
    )
    note: str = Field(description="What the patient is told (Accept-Language)")

    @classmethod
    def of(cls, row: Presettlement) -> PlatformQuote | None:
        """The platform's side of a stored quote (None where no platform is configured)."""
        if row.platform_status is None:
            return None
        if row.platform_status != "presettled" or row.platform_fund_fen is None:
            return cls(
                status="unavailable",
                total_fen=None,
                fund_fen=None,
                account_fen=None,
                cash_fen=None,
                fund_difference_fen=None,
                note=translate("quote_platform_unavailable"),
            )
        account, cash = row.platform_account_fen or 0, row.platform_cash_fen or 0
        return cls(
            status="presettled",
            total_fen=row.platform_total_fen,
            fund_fen=row.platform_fund_fen,
            account_fen=account,
            cash_fen=cash,
            fund_difference_fen=row.platform_fund_fen - row.fund_fen,
            note=translate(
                "quote_platform_presettled",
                fund=fen_to_yuan(row.platform_fund_fen),
                account=fen_to_yuan(account),
                cash=fen_to_yuan(cash),
            ),
        )


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
    platform: PlatformQuote | None = Field(
        default=None,
        description="The insurance platform's pre-settlement of the quote, where one is "
        "configured (the amounts above are the local estimate)",
    )

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
            platform=PlatformQuote.of(row),
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
            platform=PlatformQuote.of(quote) if quote else None,
            **_split(row),
        )


class SettlementItemOut(QuoteLine):
    model_config = ConfigDict(from_attributes=True)

    line_no: int


class PlatformSettledOut(BaseModel):
    """The insurance platform's settlement (2207) or reversal (2208) of this row: the split
    above is the platform's; the local rules' estimate is kept beside it."""

    setl_id: str = Field(description="The platform's settlement id (结算ID)")
    estimate_fund_fen: int
    estimate_account_fen: int
    estimate_cash_fen: int
    fund_difference_fen: int = Field(
        description="The platform's fund share minus the local estimate's (non-zero: the "
        "service's rules table disagrees with the platform's; flagged for the bureau)"
    )


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
    platform: PlatformSettledOut | None = Field(
        default=None,
        description="Where the insurance platform settled it (shown for one settlement)",
    )

    @classmethod
    def from_row(
        cls,
        row: Settlement,
        items: list[SettlementItem] | None = None,
        reversed_by: Settlement | None = None,
        platform: PlatformSettlement | None = None,
    ) -> SettlementOut:
        """Build from a settlement or reversal row."""
        return cls(
            id=row.id,
            kind=row.kind,
            message_id=row.message_id,
            reverses_id=row.reverses_id,
            reversed_by_id=reversed_by.id if reversed_by else None,
            reason=row.reason,
            order_id=row.order_id,
            patient_id=row.patient_id,
            institution_id=row.institution_id,
            store_id=row.store_id,
            disease_id=row.disease_id,
            insurance_type=row.insurance_type,
            med_type=row.med_type,
            benefit_rule_id=row.benefit_rule_id,
            year=row.year,
            service_at=to_shanghai(row.service_at),
            settled_at=to_shanghai(row.settled_at),
            items=[SettlementItemOut.model_validate(i) for i in items or []],
            platform=None
            if platform is None
            else PlatformSettledOut(
                setl_id=platform.setl_id,
                estimate_fund_fen=platform.estimate_fund_fen,
                estimate_account_fen=platform.estimate_account_fen,
                estimate_cash_fen=platform.estimate_cash_fen,
                fund_difference_fen=platform.fund_difference_fen,
            ),
            **_split(row),
        )


class SettlementPage(Page[SettlementOut]):
    """A page of settlements and reversals, newest first."""


class FlagCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=2, max_length=500)


Decision = Literal["confirmed", "rejected"]


class FlagReviewCreate(BaseModel):
    """The bureau's decision on the open flags of a settlement."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision = Field(
        description="confirmed: the claim is paid with the next statement; rejected: it is "
        "reversed (recovered by the next statement if it was already paid)"
    )
    note: str = Field(min_length=2, max_length=500)


class FlagReviewOut(BaseModel):
    id: uuid.UUID
    settlement_id: uuid.UUID
    decision: Decision
    note: str
    reviewer_name: str
    decided_at: datetime
    reversal_id: uuid.UUID | None

    @classmethod
    def from_row(cls, row: FlagReview) -> FlagReviewOut:
        """Build from a review row."""
        return cls(
            id=row.id,
            settlement_id=row.settlement_id,
            decision=row.decision,
            note=row.note,
            reviewer_name=row.reviewer_name,
            decided_at=to_shanghai(row.decided_at),
            reversal_id=row.reversal_id,
        )


class FlagOut(BaseModel):
    id: uuid.UUID
    settlement_id: uuid.UUID
    role: str
    reviewer_name: str
    reason: str
    flagged_at: datetime
    status: Literal["open", "confirmed", "rejected"] = Field(
        description="open until the bureau's review decides it"
    )
    review: FlagReviewOut | None = None

    @classmethod
    def from_row(cls, row: SettlementFlag, review: FlagReview | None = None) -> FlagOut:
        """Build from a flag row (and the review that decided it, if any)."""
        return cls(
            id=row.id,
            settlement_id=row.settlement_id,
            role=row.role,
            reviewer_name=row.reviewer_name,
            reason=row.reason,
            flagged_at=to_shanghai(row.flagged_at),
            status=review.decision if review is not None else "open",
            review=FlagReviewOut.from_row(review) if review is not None else None,
        )


class FlaggedSettlement(BaseModel):
    flag: FlagOut
    settlement: SettlementOut


class FlaggedPage(Page[FlaggedSettlement]):
    """A page of flagged settlements, newest flag first."""


class StatementCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"institution_id": "4f7b2d95-1c8e-4a63-9d0f-7e5a3b1c9d28", "month": "2026-11"}
            ]
        },
    )

    institution_id: uuid.UUID
    month: str = Month


class StatementPaymentCreate(BaseModel):
    """The bureau's payment to the institution for a confirmed statement."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount_fen": 128645032,
                    "reference": "YQYB20261215-000318",
                    "paid_on": "2026-12-15",
                }
            ]
        },
    )

    amount_fen: NonNegativeInt64
    reference: str = Field(min_length=1, max_length=64, description="Bank transfer reference")
    paid_on: CalendarDate


class StatementRecoveryCreate(BaseModel):
    """What the institution paid back for a confirmed statement whose payable is negative."""

    model_config = ConfigDict(extra="forbid")

    amount_fen: int = Field(ge=1, le=10_000_000_000_00, description="Paid back, positive")
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


StatementStatus = Literal["generated", "confirmed", "paid", "carried", "recovered"]


class StatementOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    month: str
    status: StatementStatus = Field(
        description="paid: the bureau paid; recovered: the institution paid a negative payable "
        "back; carried: a negative payable moved into a later statement"
    )
    settlement_count: int
    reversal_count: int
    total_fen: int
    fund_fen: int
    account_fen: int
    cash_fen: int
    held_fen: int = Field(description="Fund share + account payments of disputed lines, held out")
    released_fen: int = Field(description="Earlier disputed settlements confirmed since, paid now")
    carried_in_fen: int = Field(description="Negative payables of earlier statements (<= 0)")
    payable_fen: int = Field(
        description="What the bureau owes: fund share + account payments - held + released + "
        "carried in (negative: what the institution owes back)"
    )
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
            status=row.status,
            settlement_count=row.settlement_count,
            reversal_count=row.reversal_count,
            total_fen=row.total_fen,
            fund_fen=row.fund_fen,
            account_fen=row.account_fen,
            cash_fen=row.cash_fen,
            held_fen=row.held_fen,
            released_fen=row.released_fen,
            carried_in_fen=row.carried_in_fen,
            payable_fen=row.payable_fen,
            breakdown=[BreakdownRow.model_validate(b) for b in row.breakdown],
            generated_at=to_shanghai(row.generated_at),
            confirmed_at=to_shanghai(row.confirmed_at) if row.confirmed_at else None,
            paid_fen=row.paid_fen,
            paid_on=row.paid_on,
            payment_reference=row.payment_reference,
        )


class StatementLineOut(SettlementOut):
    """A settlement or reversal of the month as the statement counts it."""

    held: bool = Field(description="Disputed when the statement was made: not in its payable")
    payable_fen: int = Field(description="What this line adds to the payable (0 when held)")
    flags: list[FlagOut] = Field(default_factory=list)


class DisputedLine(BaseModel):
    """A line held out of the payable, with the flags that hold it and where it stands."""

    settlement_id: uuid.UUID
    kind: Literal["settlement", "reversal"]
    order_id: uuid.UUID
    amount_fen: int = Field(description="Its fund share + account payment, held out")
    dispute: Literal["open", "confirmed", "rejected"]
    released_into_statement_id: uuid.UUID | None = Field(
        description="The later statement that paid it once confirmed"
    )
    flags: list[FlagOut]


class ReleasedLine(BaseModel):
    """An earlier disputed line the bureau confirmed, paid with this statement."""

    settlement_id: uuid.UUID
    kind: Literal["settlement", "reversal"]
    order_id: uuid.UUID
    amount_fen: int
    held_in_statement_id: uuid.UUID
    held_in_month: str
    flags: list[FlagOut]


class CarriedStatement(BaseModel):
    """A negative payable moved from one statement into a later one."""

    statement_id: uuid.UUID
    month: str
    amount_fen: int
    carried_at: datetime


class StatementDetail(StatementOut):
    """The statement with every settlement and reversal it covers (the JSON export), what it
    holds out, releases and carries."""

    lines: list[StatementLineOut]
    disputed: list[DisputedLine]
    released: list[ReleasedLine]
    carried_in: list[CarriedStatement]
    carried_out: CarriedStatement | None = Field(
        description="Where this statement's negative payable went"
    )


class StatementPage(Page[StatementOut]):
    """A page of statements, newest month first."""


class Difference(BaseModel):
    kind: str
    settlement_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    expected_fen: int
    actual_fen: int
    difference_fen: int
    detail: str


class LedgerCorrectionCreate(BaseModel):
    """Negate a mistaken ledger transaction (a remittance, recovery, payment or refund)."""

    model_config = ConfigDict(extra="forbid")

    transaction_id: uuid.UUID
    reason: str = Field(min_length=2, max_length=500)


class LedgerCorrectionOut(BaseModel):
    id: uuid.UUID
    corrected_transaction_id: uuid.UUID
    correction_transaction_id: uuid.UUID
    kind: str
    amount_fen: int = Field(description="The corrected transaction's gross amount")
    institution_id: uuid.UUID
    statement_id: uuid.UUID | None
    reason: str
    actor_name: str
    corrected_at: datetime

    @classmethod
    def from_row(cls, row: LedgerCorrection) -> LedgerCorrectionOut:
        """Build from a correction row."""
        return cls(
            id=row.id,
            corrected_transaction_id=row.corrected_transaction_id,
            correction_transaction_id=row.correction_transaction_id,
            kind=row.kind,
            amount_fen=row.amount_fen,
            institution_id=row.institution_id,
            statement_id=row.statement_id,
            reason=row.reason,
            actor_name=row.actor_name,
            corrected_at=to_shanghai(row.corrected_at),
        )


class Posting(BaseModel):
    account: str
    amount_fen: int


class LedgerTransactionOut(BaseModel):
    """One balanced ledger transaction; `corrected_by` / `corrects` name its correction."""

    transaction_id: uuid.UUID
    kind: str
    posted_at: datetime
    institution_id: uuid.UUID
    patient_id: uuid.UUID | None
    settlement_id: uuid.UUID | None
    payment_id: uuid.UUID | None
    statement_id: uuid.UUID | None
    postings: list[Posting]
    corrected_by: LedgerCorrectionOut | None = None
    corrects: uuid.UUID | None = None

    @classmethod
    def from_entries(
        cls, entries: list[LedgerEntry], correction: LedgerCorrection | None
    ) -> LedgerTransactionOut:
        """Build from the entries of one transaction (and a correction naming it)."""
        first = entries[0]
        corrects = (
            correction.corrected_transaction_id
            if correction is not None
            and correction.correction_transaction_id == first.transaction_id
            else None
        )
        return cls(
            transaction_id=first.transaction_id,
            kind=first.kind,
            posted_at=to_shanghai(first.posted_at),
            institution_id=first.institution_id,
            patient_id=first.patient_id,
            settlement_id=first.settlement_id,
            payment_id=first.payment_id,
            statement_id=first.statement_id,
            postings=[Posting(account=e.account, amount_fen=e.amount_fen) for e in entries],
            corrected_by=(
                LedgerCorrectionOut.from_row(correction)
                if correction is not None and corrects is None
                else None
            ),
            corrects=corrects,
        )


class LedgerTransactionPage(Page[LedgerTransactionOut]):
    """A page of ledger transactions, newest first."""


class Remittance(BaseModel):
    """A remittance (or recovery) posting of a statement; a correction's posting negates one."""

    transaction_id: uuid.UUID
    amount_fen: int
    posted_at: datetime
    corrected: bool
    is_correction: bool


class Reconciliation(BaseModel):
    statement_id: uuid.UUID
    month: str
    institution_id: uuid.UUID
    status: StatementStatus
    agrees: bool
    payable_fen: int
    held_fen: int
    released_fen: int
    carried_in_fen: int
    remitted_fen: int = Field(description="Net bureau remittance in the ledger (corrections in)")
    carried_out: CarriedStatement | None
    differences: list[Difference]
    disputed: list[DisputedLine]
    released: list[ReleasedLine]
    remittances: list[Remittance]
    corrections: list[LedgerCorrectionOut]
