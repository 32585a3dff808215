"""The split arithmetic: rounding rule, exclusions, deductible, ratio, limit, reconciliation."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from app.insurance.calculation import QuotaState, Terms, apply_ratio, split_claim
from app.insurance.claims import ClaimItem

TERMS = Terms(
    deductible_fen=10_000, reimbursement_bp=7_000, partial_prepay_bp=1_000, annual_limit_fen=200_000
)


def item(insurance_class: str, price: int, quantity: int = 1) -> ClaimItem:
    return ClaimItem(
        drug_id=uuid.uuid4(),
        national_code="X",
        name_zh="药",
        quantity=quantity,
        unit_price_fen=price,
        insurance_class=insurance_class,  # type: ignore[arg-type]
    )


def test_ratio_rounds_half_up_to_the_fen() -> None:
    assert apply_ratio(5, 1_000) == 1  # 0.5 fen -> 1
    assert apply_ratio(4, 1_000) == 0  # 0.4 fen -> 0
    assert apply_ratio(15, 7_000) == 11  # 10.5 -> 11
    assert apply_ratio(1_001, 7_000) == 701  # 700.7 -> 701
    assert apply_ratio(0, 7_000) == 0


def test_deductible_then_ratio_on_a_full_class_drug() -> None:
    split = split_claim((item("full", 30_000),), TERMS, QuotaState(0, 0), 0)
    assert split.deductible_fen == 10_000
    assert split.fund_fen == 14_000  # 70% of 200.00 yuan
    assert split.copay_fen == 6_000
    assert split.personal_fen == 16_000
    assert split.cash_fen == 16_000


def test_self_pay_is_wholly_personal_and_partial_prepays_its_share() -> None:
    split = split_claim(
        (item("self_pay", 1_000), item("partial", 5_005)), TERMS, QuotaState(10_000, 0), 0
    )
    assert split.self_pay_fen == 1_000
    assert split.partial_prepay_fen == 501  # 10% of 50.05 yuan, half up
    assert split.deductible_fen == 0  # met already this year
    assert split.fund_fen == apply_ratio(5_005 - 501, 7_000)
    assert split.total_fen == 6_005


def test_fund_share_is_capped_by_the_remaining_annual_limit() -> None:
    split = split_claim((item("full", 100_000),), TERMS, QuotaState(10_000, 150_000), 0)
    assert split.fund_fen == 50_000
    assert split.over_limit_fen == 70_000 - 50_000
    assert split.limit_remaining_fen == 0


def test_personal_account_pays_before_cash() -> None:
    split = split_claim((item("full", 30_000),), TERMS, QuotaState(0, 0), 5_000)
    assert (split.account_fen, split.cash_fen) == (5_000, 11_000)


@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(["full", "partial", "self_pay"]),
            st.integers(0, 500_000),
            st.integers(1, 20),
        ),
        min_size=1,
        max_size=8,
    ),
    met=st.integers(0, 20_000),
    used=st.integers(0, 250_000),
    balance=st.integers(0, 100_000),
    ratio=st.integers(0, 10_000),
)
def test_split_always_reconciles_to_the_fen(
    lines: list[tuple[str, int, int]], met: int, used: int, balance: int, ratio: int
) -> None:
    terms = Terms(10_000, ratio, 1_000, 200_000)
    split = split_claim(
        tuple(item(c, p, q) for c, p, q in lines), terms, QuotaState(met, used), balance
    )
    assert split.total_fen == split.fund_fen + split.personal_fen
    assert split.personal_fen == split.account_fen + split.cash_fen
    assert split.personal_fen == (
        split.self_pay_fen
        + split.partial_prepay_fen
        + split.deductible_fen
        + split.copay_fen
        + split.over_limit_fen
    )
    assert 0 <= split.fund_fen <= max(0, 200_000 - used)
    assert 0 <= split.deductible_fen <= max(0, 10_000 - met)
    assert min(split.account_fen, split.cash_fen, split.copay_fen) >= 0
