"""SQL for alerts: open episodes, race-free raising, scoped lists, and signal-loss candidates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.kit.sql import one_of
from app.models import Alert, CareRelationship, Doctor, Patient, ReadingLatest

_OPEN_EPISODE = text("episode_ended_at IS NULL")


async def open_episodes(session: AsyncSession, patient_id: uuid.UUID) -> dict[str, Alert]:
    """The patient's alerts whose episode is still going on, by rule."""
    rows = await session.scalars(
        select(Alert).where(Alert.patient_id == patient_id, Alert.episode_ended_at.is_(None))
    )
    return {row.rule: row for row in rows}


async def raise_alert(session: AsyncSession, values: dict[str, Any]) -> Alert | None:
    """Insert an alert unless its rule already has an open episode for the patient (then None)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Alert)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["patient_id", "rule"], index_where=_OPEN_EPISODE)
        .returning(Alert)
    )
    return (await session.scalars(statement)).one_or_none()


async def doctor_accounts(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """Account ids of each patient's doctors in active care."""
    rows = await session.execute(
        select(CareRelationship.patient_id, Doctor.account_id)
        .join(Doctor, Doctor.id == CareRelationship.doctor_id)
        .where(
            one_of(session, CareRelationship.patient_id, patient_ids),
            CareRelationship.started_at <= now,
            or_(CareRelationship.ended_at.is_(None), CareRelationship.ended_at > now),
        )
    )
    accounts: dict[uuid.UUID, list[uuid.UUID]] = {}
    for patient_id, account_id in rows:
        accounts.setdefault(patient_id, []).append(account_id)
    return accounts


async def get_visible(
    session: AsyncSession,
    principal: Principal,
    alert_id: uuid.UUID,
    now: datetime,
    *,
    lock: bool = False,
) -> Alert | None:
    """An alert of a patient the caller may see (`lock`: FOR UPDATE, for changing it)."""
    statement = select(Alert).where(
        Alert.id == alert_id, patient_scope(principal, Alert.patient_id, now)
    )
    if lock:
        statement = statement.with_for_update(of=Alert)
    return await session.scalar(statement)


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    unacknowledged_only: bool,
    patient_id: uuid.UUID | None,
    before: datetime | None,
    limit: int,
) -> Sequence[tuple[Alert, str | None]]:
    """Alerts of the caller's patients with each patient's name, newest first."""
    statement = (
        select(Alert, Patient.name)
        .join(Patient, Patient.id == Alert.patient_id)
        .where(patient_scope(principal, Alert.patient_id, now))
    )
    if unacknowledged_only:
        statement = statement.where(Alert.acknowledged_at.is_(None))
    if patient_id is not None:
        statement = statement.where(Alert.patient_id == patient_id)
    if before is not None:
        statement = statement.where(Alert.created_at < before)
    result = await session.execute(statement.order_by(Alert.created_at.desc()).limit(limit))
    return [(alert, name) for alert, name in result]


async def signal_loss_candidates(
    session: AsyncSession, silent_since: datetime, horizon: datetime, limit: int
) -> Sequence[ReadingLatest]:
    """Latest CGM readings older than `silent_since` (newer than `horizon`) with no open
    signal-loss episode."""
    open_loss = select(Alert.patient_id).where(
        Alert.rule == "signal_loss", Alert.episode_ended_at.is_(None)
    )
    return (
        await session.scalars(
            select(ReadingLatest)
            .where(
                ReadingLatest.kind == "cgm",
                ReadingLatest.measured_at < silent_since,
                ReadingLatest.measured_at >= horizon,
                ReadingLatest.patient_id.not_in(open_loss),
            )
            .limit(limit)
        )
    ).all()


async def open_alerts_by_rule(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str, int, int]]:
    """(patient, rule, highest level, how many) of the patients' open alerts. An alert stays
    open until a doctor acknowledges it, even if its episode has ended: the doctor still has
    to see that it happened."""
    rows = await session.execute(
        select(Alert.patient_id, Alert.rule, func.max(Alert.level), func.count())
        .where(one_of(session, Alert.patient_id, patient_ids), Alert.acknowledged_at.is_(None))
        .group_by(Alert.patient_id, Alert.rule)
    )
    return [(patient, str(rule), int(level), int(count)) for patient, rule, level, count in rows]
