"""How urgently each patient needs a doctor's look, from their unacknowledged alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.alert import repository


@dataclass(frozen=True)
class Urgency:
    """A patient's urgency: 0 none, 1 watch, 2 high, 3 urgent; reasons are stable rule codes."""

    level: int
    open_alerts: int
    reasons: tuple[str, ...]


NO_URGENCY = Urgency(0, 0, ())


async def urgency_by_patient(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Urgency]:
    """Every requested patient gets an entry (level 0 when nothing is open)."""
    result = dict.fromkeys(patient_ids, NO_URGENCY)
    if not patient_ids:
        return result
    by_patient: dict[uuid.UUID, list[tuple[int, str, int]]] = {}
    for patient_id, rule, level, count in await repository.open_alerts_by_rule(
        session, list(result)
    ):
        by_patient.setdefault(patient_id, []).append((level, rule, count))
    for patient_id, rules in by_patient.items():
        rules.sort(key=lambda item: (-item[0], item[1]))
        result[patient_id] = Urgency(
            level=rules[0][0],
            open_alerts=sum(count for _, _, count in rules),
            reasons=tuple(rule for _, rule, _ in rules),
        )
    return result
