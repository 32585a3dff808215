"""What the assignment domain records when it changes something (see app/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import CareRelationship


@dataclass(frozen=True)
class DoctorAssigned:
    """A patient has a new receiving doctor (`relationship`); `ended` is the relationship this
    replaced, if any. Not recorded when a retried call finds the patient's existing doctor."""

    relationship: CareRelationship
    ended: CareRelationship | None
