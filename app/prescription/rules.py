"""The prescribing rules of online chronic care, each a clear refusal (409 with its own code).

Pure functions over what the doctor asked for and the formulary: the service gathers the rows,
these decide. Limits (7 / 84 days, validity 3 days) come from settings, being city policy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.config import Settings
from app.errors import Conflict
from app.models import Drug, FormularyItem

# Administrations per day of each frequency code the doctor app offers.
TIMES_PER_DAY: dict[str, int] = {"qd": 1, "qn": 1, "bid": 2, "tid": 3, "qid": 4}


@dataclass(frozen=True)
class ItemRequest:
    """One line as the doctor wrote it."""

    drug_id: object
    dose: Decimal
    frequency: str
    route: str | None
    days_supply: int


@dataclass(frozen=True)
class PricedLine:
    """A line that passed the rules, with what it dispenses and costs."""

    request: ItemRequest
    drug: Drug
    formulary: FormularyItem
    packs: int
    amount_fen: int


def check_visit(visit_kind: str) -> None:
    """Online care is for follow-up visits only: a first diagnosis happens in person."""
    if visit_kind != "follow_up":
        raise Conflict("first_visit_not_online")


def check_validity(valid_days: int, settings: Settings) -> None:
    """Valid on the day written, up to `prescription_max_valid_days` when the doctor says so."""
    if valid_days > settings.prescription_max_valid_days:
        raise Conflict("validity_too_long", max=settings.prescription_max_valid_days)


def check_days_supply(days_supply: int, is_long: bool, settings: Settings) -> None:
    """Up to 7 days normally; a long prescription (stable chronic patient) up to 84."""
    if is_long:
        if days_supply > settings.prescription_long_max_days:
            raise Conflict("days_supply_exceeds_long", max=settings.prescription_long_max_days)
    elif days_supply > settings.prescription_normal_max_days:
        raise Conflict("days_supply_exceeds_normal", max=settings.prescription_normal_max_days)


def check_supply_within_entitlement(written_on: date, days_supply: int, valid_until: date) -> None:
    """The drugs must not last past the entitlement the prescription rests on."""
    if written_on + timedelta(days=days_supply - 1) > valid_until:
        raise Conflict("supply_beyond_entitlement", until=valid_until.isoformat())


def price_line(request: ItemRequest, drug: Drug, formulary: FormularyItem | None) -> PricedLine:
    """Apply the per-drug rules to one line and work out its packs and amount."""
    if drug.controlled:
        raise Conflict("controlled_drug_not_online", drug=drug.generic_name_zh)
    if formulary is None:
        raise Conflict("drug_not_in_formulary", drug=drug.generic_name_zh)
    daily = request.dose * TIMES_PER_DAY[request.frequency]
    if daily > formulary.max_daily_quantity:
        raise Conflict(
            "dose_exceeds_maximum",
            drug=drug.generic_name_zh,
            max=f"{formulary.max_daily_quantity.normalize():f}",
            unit=formulary.dose_unit,
        )
    packs = math.ceil(daily * request.days_supply / formulary.units_per_pack)
    return PricedLine(request, drug, formulary, packs, packs * drug.price_fen)


def check_duplicate_therapy(
    lines: Sequence[PricedLine], classes_in_use: Iterable[str] = ()
) -> None:
    """Two drugs of one therapeutic class at once - in this prescription, or alongside one the
    patient still takes - is duplicate therapy."""
    counts = Counter(line.formulary.therapeutic_class for line in lines)
    in_use = set(classes_in_use)
    for line in lines:
        therapeutic_class = line.formulary.therapeutic_class
        if counts[therapeutic_class] > 1 or therapeutic_class in in_use:
            raise Conflict(
                "duplicate_therapy",
                drug=line.drug.generic_name_zh,
                drug_class=therapeutic_class,
            )
