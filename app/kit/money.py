"""Money is integer fen everywhere; yuan only where it is written for people or other systems."""

from __future__ import annotations


def fen_to_yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals: `-12.30`, `0.05`."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
