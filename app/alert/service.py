"""Evaluating alert rules as readings arrive, raising once per episode, and telling doctors."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.alert import repository as alert_repository
from app.alert.rules import LEVELS, Episodic, episodic_rules, sustained_high_since
from app.alert.schemas import AlertOut
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.errors import NotFound
from app.i18n import translate_to
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import Alert, Patient
from app.outbox.push import PushNotification, queue_push
from app.reading import repository as reading_repository
from app.reading.units import above
from app.realtime.hub import RealtimeHub
from app.realtime.publish import publish_after_commit

RESOURCE = "alert"
# An urgent alert (level 3) reaches the patient too, by SMS when no WeChat grant is left.
PATIENT_ALERT_LEVEL = 3
ALERT_RAISED = "alert_raised"
ALERT_ACKNOWLEDGED = "alert_acknowledged"


def _values(patient_id: uuid.UUID, rule: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "rule": rule,
        "level": LEVELS[rule],
        "measured_at": row["measured_at"],
        "value": row["value"],
        "value2": row.get("value2"),
        "created_at": utcnow(),
    }


async def _walk_episodes(
    session: AsyncSession,
    patient_id: uuid.UUID,
    rule: Episodic,
    rows: Sequence[dict[str, Any]],
    current: Alert | None,
) -> list[Alert]:
    # Readings in time order move the rule's episode on: an open one ends on a later reading
    # that ends it; a live reading that starts one raises it while none is open.
    raised: list[Alert] = []
    for row in rows:
        if row["kind"] not in rule.kinds:
            continue
        if current is not None:
            if row["measured_at"] > current.measured_at and rule.ends(row):
                current.episode_ended_at = row["measured_at"]
                await session.flush()
                current = None
        elif not row["backfilled"] and rule.starts(row):
            current = await alert_repository.raise_alert(
                session, _values(patient_id, rule.rule, row)
            )
            if current is not None:
                raised.append(current)
    return raised


async def _sustained_high(
    session: AsyncSession,
    settings: Settings,
    patient_id: uuid.UUID,
    rows: Sequence[dict[str, Any]],
    current: Alert | None,
) -> list[Alert]:
    live = [r for r in rows if r["kind"] == "cgm" and not r["backfilled"]]
    if current is not None or not live:
        return []
    last = live[-1]
    if not above(last["value"], settings.alert_sustained_high_mg_dl):
        return []  # a high run ends at a high value: no history needed to know there is none
    window = timedelta(minutes=settings.alert_sustained_high_minutes) + timedelta(hours=1)
    history = await reading_repository.series(
        session, patient_id, ("cgm",), last["measured_at"] - window, last["measured_at"]
    )
    points = [(h.measured_at, h.value, h.sample_interval_seconds) for h in history]
    points.append((last["measured_at"], last["value"], last["sample_interval_seconds"]))
    if sustained_high_since(points, settings) is None:
        return []
    alert = await alert_repository.raise_alert(session, _values(patient_id, "sustained_high", last))
    return [alert] if alert is not None else []


async def evaluate(
    session: AsyncSession,
    settings: Settings,
    hub: RealtimeHub,
    patient_id: uuid.UUID,
    rows: Sequence[dict[str, Any]],
    has_open_episode: bool = True,
) -> list[Alert]:
    """Apply every rule to newly stored readings; raise and deliver new episodes' alerts.

    `has_open_episode` False (known from the batch's first query) lets a batch of backfilled
    readings skip the rules: it can neither start an episode nor end one.
    """
    if not rows or (not has_open_episode and all(r["backfilled"] for r in rows)):
        return []
    ordered = sorted(rows, key=lambda r: r["measured_at"])
    open_now = await alert_repository.open_episodes(session, patient_id) if has_open_episode else {}
    raised: list[Alert] = []
    for rule in episodic_rules(settings):
        current = open_now.get(rule.rule)
        raised += await _walk_episodes(session, patient_id, rule, ordered, current)
        if rule.rule == "sustained_high":
            still_open = current if current and current.episode_ended_at is None else None
            raised += await _sustained_high(session, settings, patient_id, ordered, still_open)
    await deliver(session, hub, raised)
    return raised


async def deliver(session: AsyncSession, hub: RealtimeHub, alerts: Sequence[Alert]) -> None:
    """Push new alerts to the patients' doctors after commit, and durably through the outbox."""
    if not alerts:
        return
    now = utcnow()
    patient_ids = list({a.patient_id for a in alerts})
    doctors = await alert_repository.doctor_accounts(session, patient_ids, now)
    for alert in alerts:
        patient = await by_id(session, Patient, alert.patient_id)
        body = AlertOut.build(alert, patient.name if patient else None)
        recipients = doctors.get(alert.patient_id, [])
        publish_after_commit(
            session,
            hub,
            recipients,
            {"type": "alert.raised", "alert": body.model_dump(mode="json")},
        )
        for account_id in recipients:
            await queue_push(
                session,
                PushNotification(
                    recipient=str(account_id),
                    template="reading_alert",
                    data={
                        "rule": body.rule,
                        "title": body.title,
                        "patient_name": body.patient_name,
                        "value": body.value,
                        "value_mmol_l": body.value_mmol_l,
                        "value2": body.value2,
                        "measured_at": body.measured_at.isoformat(),
                    },
                    page=f"/alerts/{alert.id}",
                ),
                idempotency_key=f"alert:{alert.id}:{account_id}",
            )
        if alert.level >= PATIENT_ALERT_LEVEL and patient is not None:
            await _tell_patient(
                session,
                patient,
                alert,
                ALERT_RAISED,
                {
                    "summary": translate_to("zh", f"alert_rule_{alert.rule}"),
                    "started_at": alert.measured_at.isoformat(),
                },
            )


async def _tell_patient(
    session: AsyncSession, patient: Patient, alert: Alert, kind: str, data: dict[str, Any]
) -> None:
    """Queue a notification of the alert to the patient (in the mini-program's Chinese)."""
    await queue_push(
        session,
        PushNotification(
            recipient=str(patient.account_id),
            template=kind,
            data=data,
            page=f"pages/alerts/detail?id={alert.id}",
        ),
        idempotency_key=f"{kind}:{alert.id}",
    )


async def sweep_signal_loss(
    session: AsyncSession, settings: Settings, hub: RealtimeHub, limit: int = 500
) -> int:
    """Raise signal-loss alerts for patients whose CGM data stopped; how many were raised."""
    now = utcnow()
    silent = await alert_repository.signal_loss_candidates(
        session,
        now - timedelta(minutes=settings.alert_signal_loss_minutes),
        now - timedelta(hours=settings.alert_signal_loss_horizon_hours),
        limit,
    )
    raised: list[Alert] = []
    for latest in silent:
        row = {"measured_at": latest.measured_at, "value": latest.value}
        alert = await alert_repository.raise_alert(
            session, _values(latest.patient_id, "signal_loss", row)
        )
        if alert is not None:
            raised.append(alert)
    await deliver(session, hub, raised)
    return len(raised)


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    unacknowledged_only: bool,
    patient_id: uuid.UUID | None,
    before: datetime | None,
    limit: int,
) -> list[AlertOut]:
    """Alerts of the caller's patients (a doctor's, or a patient's own), newest first, audited."""
    rows = await alert_repository.list_visible(
        session,
        principal,
        utcnow(),
        unacknowledged_only=unacknowledged_only,
        patient_id=patient_id,
        before=before,
        limit=limit,
    )
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(a.id, a.patient_id) for a, _ in rows]
    )
    return [AlertOut.build(alert, name) for alert, name in rows]


async def acknowledge(
    session: AsyncSession, principal: Principal, hub: RealtimeHub, alert_id: uuid.UUID
) -> AlertOut:
    """A doctor acknowledges an alert of their patient (again: unchanged); others' are 404."""
    now = utcnow()
    # Locked: acknowledgements sent at once are one after another, and all but the first
    # find it acknowledged and answer that acknowledgement.
    alert = await alert_repository.get_visible(session, principal, alert_id, now, lock=True)
    if alert is None:
        raise NotFound()
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = principal.account_id
        await session.flush()
        await audit_service.record(
            session, principal, AuditAction.update, RESOURCE, alert.id, alert.patient_id
        )
        doctors = await alert_repository.doctor_accounts(session, [alert.patient_id], now)
        publish_after_commit(
            session,
            hub,
            doctors.get(alert.patient_id, []),
            {"type": "alert.acknowledged", "alert_id": str(alert.id), "by": principal.display_name},
        )
    patient = await by_id(session, Patient, alert.patient_id)
    if patient is not None and alert.acknowledged_at == now:
        # Once: only the acknowledgement that set it tells the patient their doctor saw it.
        await _tell_patient(
            session,
            patient,
            alert,
            ALERT_ACKNOWLEDGED,
            {
                "summary": translate_to("zh", f"alert_rule_{alert.rule}"),
                "doctor": principal.display_name,
                "acknowledged_at": now.isoformat(),
            },
        )
    return AlertOut.build(alert, patient.name if patient else None)
