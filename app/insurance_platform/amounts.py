"""Money on the platform is yuan with two decimals (数值型 16,2); here it is integer fen (written
out with app.kit.money.fen_to_yuan)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from app.insurance_platform.client import PlatformUnreachable


def yuan_to_fen(amount: Any) -> int:
    """A platform amount in integer fen; anything that is not one is not an answer."""
    try:
        fen = Decimal(str(amount)) * 100
    except InvalidOperation as exc:
        raise PlatformUnreachable() from exc
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise PlatformUnreachable()
    return int(fen)
