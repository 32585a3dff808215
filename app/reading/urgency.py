"""How urgently each patient needs a doctor's look, from their unacknowledged alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Alert


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
    # An alert stays open until a doctor acknowledges it, even if its episode has ended: the
    # doctor still has to see that it happened.
    rows = await session.execute(
        select(Alert.patient_id, Alert.rule, func.max(Alert.level), func.count())
        .where(Alert.patient_id.in_(list(result)), Alert.acknowledged_at.is_(None))
        .group_by(Alert.patient_id, Alert.rule)
    )
    by_patient: dict[uuid.UUID, list[tuple[int, str, int]]] = {}
    for patient_id, rule, level, count in rows:
        by_patient.setdefault(patient_id, []).append((int(level), str(rule), int(count)))
    for patient_id, rules in by_patient.items():
        rules.sort(key=lambda item: (-item[0], item[1]))
        result[patient_id] = Urgency(
            level=rules[0][0],
            open_alerts=sum(count for _, _, count in rules),
            reasons=tuple(rule for _, rule, _ in rules),
        )
    return result
