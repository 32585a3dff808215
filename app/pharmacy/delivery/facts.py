"""What the order domain records when it changes something (see app/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import PharmacyOrder


@dataclass(frozen=True)
class OrderTransitioned:
    """An order moved `source -> target` (its history row is written; `order.status` is
    `target`)."""

    order: PharmacyOrder
    source: str
    target: str
    note: str | None


@dataclass(frozen=True)
class OrderHandedOver:
    """The patient's one-time code took the order to `delivered`: the sale is settled with
    insurance in the same transaction (no hand-over without its settlement)."""

    order: PharmacyOrder
