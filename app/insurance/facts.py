"""What the insurance domain records when it changes something (see app/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Presettlement, Settlement


@dataclass(frozen=True)
class SettlementReversed:
    """A settlement was reversed (a failed delivery, a quality return, a rejected doubt flag):
    whatever the patient paid towards it is owed back in the same transaction."""

    original: Settlement
    reversal: Settlement


@dataclass(frozen=True)
class QuoteComputed:
    """A quote (pre-settlement) was computed from the local rules and stored: where the
    insurance platform is configured, its own pre-settlement is asked for in the transaction."""

    quote: Presettlement
