"""Alert bodies for the doctor app (and the realtime event)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.alert.rules import GLUCOSE_RULES
from app.i18n import translate
from app.kit.pagination import Page
from app.models import Alert
from app.reading.units import to_mmol_l

AlertRule = Literal["urgent_low", "sustained_high", "bp_grade3", "signal_loss", "irregular_rhythm"]


class AlertOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str | None
    rule: AlertRule
    title: str = Field(description="The rule in the reader's language")
    level: int = Field(description="1 watch, 2 high, 3 urgent")
    measured_at: datetime = Field(description="The reading that raised it (signal loss: last)")
    value: float | None = Field(
        description="Glucose mg/dL, systolic mmHg, or heart rate bpm (irregular rhythm)"
    )
    value_mmol_l: float | None = Field(description="Glucose in mmol/L")
    value2: float | None = Field(description="Diastolic mmHg")
    raised_at: datetime
    episode_ended_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: uuid.UUID | None

    @classmethod
    def build(cls, alert: Alert, patient_name: str | None) -> AlertOut:
        """The body of an alert."""
        glucose = alert.rule in GLUCOSE_RULES and alert.value is not None
        return cls(
            id=alert.id,
            patient_id=alert.patient_id,
            patient_name=patient_name,
            rule=alert.rule,
            title=translate(f"alert_rule_{alert.rule}"),
            level=alert.level,
            measured_at=alert.measured_at,
            value=alert.value,
            value_mmol_l=to_mmol_l(alert.value) if glucose and alert.value is not None else None,
            value2=alert.value2,
            raised_at=alert.created_at,
            episode_ended_at=alert.episode_ended_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )


class AlertPage(Page[AlertOut]):
    """A page of alerts, newest first."""
