"""What the reading domain records when it changes something (see app/events.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReadingsStored:
    """New readings of a patient were stored (duplicates and rejected items are not in `rows`).
    `has_open_episode` False says the patient had no open alert episode before the batch."""

    patient_id: uuid.UUID
    rows: Sequence[dict[str, Any]]
    has_open_episode: bool
