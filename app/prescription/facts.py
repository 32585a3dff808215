"""What the prescription domain records when it changes something (see app/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.authz.principal import Principal
from app.models import Prescription


@dataclass(frozen=True)
class PrescriptionReviewed:
    """A pharmacist approved or rejected a signed prescription (its status says which)."""

    prescription: Prescription


@dataclass(frozen=True)
class RevocationRequested:
    """The doctor revokes a prescription: recorded before it moves to revoked, so an ordered
    prescription's open order is cancelled first (after picking, the order's machine refuses
    with 409 and nothing changes)."""

    prescription: Prescription
    by: Principal
    reason: str
