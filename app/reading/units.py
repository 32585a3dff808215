"""Glucose units and the integer-mg/dL convention the consensus bands are defined in."""

from __future__ import annotations

from typing import Literal

GlucoseUnit = Literal["mg/dL", "mmol/L"]

# docs/domain.md (wearable data): mmol/L = mg/dL / 18.016.
MG_DL_PER_MMOL_L = 18.016


def to_mg_dl(value: float, unit: str) -> float:
    """A glucose value in mg/dL (the stored canonical unit), to 0.01 mg/dL."""
    if unit == "mg/dL":
        return float(value)
    if unit == "mmol/L":
        return round(value * MG_DL_PER_MMOL_L, 2)
    raise ValueError(f"not a glucose unit: {unit}")


def to_mmol_l(mg_dl: float) -> float:
    """A mg/dL value in mmol/L, to one decimal as meters show it."""
    return round(mg_dl / MG_DL_PER_MMOL_L, 1)


def other_glucose_unit(unit: str) -> str:
    """mg/dL for mmol/L and the other way round."""
    return "mmol/L" if unit == "mg/dL" else "mg/dL"


# The consensus bands are whole mg/dL ranges (<54, 54-69, 70-180, 181-250, >250): a value
# belongs to the band of its nearest whole mg/dL. That puts every one-decimal mmol/L value in the
# band of the mmol/L table too (3.0 -> 54.05, 3.9 -> 70.26, 10.0 -> 180.16, 13.9 -> 250.42).
def below(mg_dl: float, whole_mg_dl: float) -> bool:
    """Whether the value rounds to less than `whole_mg_dl` (e.g. below(53.6, 54) is False)."""
    return mg_dl < whole_mg_dl - 0.5


def above(mg_dl: float, whole_mg_dl: float) -> bool:
    """Whether the value rounds to more than `whole_mg_dl` (e.g. above(180.4, 180) is False)."""
    return mg_dl >= whole_mg_dl + 0.5
