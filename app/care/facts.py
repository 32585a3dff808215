"""What the care domain records when it changes something (see app/events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CareTeamChanged:
    """A team was created, or its members or patients changed: `member_account_ids` are the
    accounts of its current members."""

    team_id: uuid.UUID
    team_name: str
    member_account_ids: Sequence[uuid.UUID]


@dataclass(frozen=True)
class PatientLeftTeam:
    """A patient was taken off a team (recorded before the team's `CareTeamChanged`)."""

    team_id: uuid.UUID
    team_name: str
    patient_id: uuid.UUID
