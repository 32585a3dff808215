"""What the order domain records when it changes something (see app/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import PharmacyOrder


@dataclass(frozen=True)
class OrderTransitioned:
    """An order moved `source -> target` (its history row is written; `order.status` is
    `target`). Hand-over (`delivered`) settles the sale with insurance."""

    order: PharmacyOrder
    source: str
    target: str
    note: str | None
