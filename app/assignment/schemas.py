"""Assignment bodies: starting online care, changing doctor, transfers, decisions, the queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.care.schemas import CareRelationshipOut


class OnlineCareStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_id: uuid.UUID = Field(description="The designated institution the patient chose")


class DoctorChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)
    from_relationship_id: uuid.UUID = Field(
        description=(
            "The care relationship the patient is leaving: `relationship.id` of the doctor the "
            "app shows. When it ended meanwhile (the same request sent twice, a transfer), the "
            "change is refused 409 `doctor_changed_meanwhile` instead of made twice."
        )
    )
    institution_id: uuid.UUID | None = Field(
        default=None, description="A different institution (default: the current one)"
    )


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    to_doctor_id: uuid.UUID | None = Field(
        default=None, description="A named colleague, or none to let the engine choose"
    )
    reason: str = Field(min_length=1, max_length=200)


class DecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    purpose: Literal["enrollment", "consultation", "change_doctor", "transfer", "handoff"]
    doctor_id: uuid.UUID
    requested_institution_id: uuid.UUID | None
    urgency_level: int
    total_score: float
    candidates_considered: int
    breakdown: dict[str, Any] = Field(
        description="weights, urgency, the disease course (course: diagnosed_year, years), "
        "the chosen doctor's factors (value x weight = points), the runners-up"
    )
    decided_at: datetime


class AssignmentOut(BaseModel):
    relationship: CareRelationshipOut
    decision: DecisionOut | None
    created: bool = Field(description="False when the patient already had this doctor")


class ConsultationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class ConsultationOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    status: Literal["waiting", "in_consultation", "completed", "cancelled"]
    urgency_level: int
    reason: str | None
    requested_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    handoffs: int
    decision_id: uuid.UUID
    position: int | None = Field(description="1 = next; none once out of the queue")
    ahead: int
    estimated_wait_seconds: int | None = Field(
        description="None while the doctor is offline (see doctor_back_at)"
    )
    estimate_basis: Literal["measured", "assumed"] = Field(
        description="measured: the doctor's recent consultation lengths; assumed: the default"
    )
    estimate_samples: int
    doctor_presence: Literal["online", "busy", "offline"]
    doctor_back_at: datetime | None
