"""The split of a claim into fund share and personal share: pure integer arithmetic in fen.

Rounding rule: a ratio is applied as `amount * basis_points / 10000` rounded half up to the fen
(half-up on non-negative integers, never a float). The category-B pre-payment is rounded per
line (the national platform settles per fee line); the fund share is rounded once on the
claim's reimbursable base. The personal share is always `total - fund`, so the totals reconcile
to the fen whatever the rounding: total = fund + personal, personal = account + cash.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.insurance.claims import ClaimItem, LineSplit, Split

BASIS_POINTS = 10_000


def apply_ratio(amount_fen: int, basis_points: int) -> int:
    """`amount_fen * basis_points / 10000`, rounded half up to the fen (non-negative inputs)."""
    if amount_fen < 0 or not 0 <= basis_points <= BASIS_POINTS:
        raise ValueError("ratio needs a non-negative amount and 0-10000 basis points")
    return (amount_fen * basis_points * 2 + BASIS_POINTS) // (2 * BASIS_POINTS)


@dataclass(frozen=True)
class Terms:
    """The benefit terms a split is computed under."""

    deductible_fen: int
    reimbursement_bp: int
    partial_prepay_bp: int
    annual_limit_fen: int


@dataclass(frozen=True)
class QuotaState:
    """What the patient has used this year before the claim."""

    deductible_met_fen: int
    limit_used_fen: int


def split_line(item: ClaimItem, terms: Terms) -> LineSplit:
    """Self-pay drugs are wholly personal; category-B drugs carry the pre-payment share."""
    amount = item.amount_fen
    if item.insurance_class == "self_pay":
        return LineSplit(amount, amount, 0)
    if item.insurance_class == "partial":
        return LineSplit(amount, 0, apply_ratio(amount, terms.partial_prepay_bp))
    return LineSplit(amount, 0, 0)


def split_claim(
    items: tuple[ClaimItem, ...], terms: Terms, quota: QuotaState, account_balance_fen: int
) -> Split:
    """Divide a claim: exclusions, then the deductible, then the ratio, capped by the limit."""
    lines = tuple(split_line(item, terms) for item in items)
    total = sum(line.amount_fen for line in lines)
    self_pay = sum(line.self_pay_fen for line in lines)
    prepay = sum(line.partial_prepay_fen for line in lines)
    eligible = total - self_pay - prepay
    deductible = min(eligible, max(0, terms.deductible_fen - quota.deductible_met_fen))
    fund_uncapped = apply_ratio(eligible - deductible, terms.reimbursement_bp)
    limit_remaining = max(0, terms.annual_limit_fen - quota.limit_used_fen)
    fund = min(fund_uncapped, limit_remaining)
    personal = total - fund
    account = min(account_balance_fen, personal)
    return Split(
        total_fen=total,
        fund_fen=fund,
        personal_fen=personal,
        account_fen=account,
        cash_fen=personal - account,
        self_pay_fen=self_pay,
        partial_prepay_fen=prepay,
        deductible_fen=deductible,
        copay_fen=eligible - deductible - fund_uncapped,
        over_limit_fen=fund_uncapped - fund,
        limit_remaining_fen=limit_remaining - fund,
        lines=lines,
    )
