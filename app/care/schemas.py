"""Care bodies: relationships, teams, follow-up plans and follow-ups, referrals."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.time_bounds import CalendarDate

TeamRole = Literal["family_doctor", "health_manager", "specialist"]
FollowUpStatus = Literal["scheduled", "completed", "missed", "cancelled"]
ReferralStatus = Literal["requested", "accepted", "rejected", "completed", "cancelled"]


class CareRelationshipOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    institution_id: uuid.UUID
    kind: Literal["primary", "team", "consult", "referral"]
    team_id: uuid.UUID | None
    started_at: datetime
    ended_at: datetime | None
    ended_reason: str | None


class CareRelationshipPage(Page[CareRelationshipOut]):
    """A page of care relationships, by id."""


class RelationshipEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=32, examples=["patient_moved"])


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doctor_id: uuid.UUID
    role: TeamRole


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    institution_id: uuid.UUID
    name: str = Field(min_length=1, max_length=64)
    members: list[TeamMemberIn] = Field(min_length=1, max_length=20)


class TeamMemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    doctor_id: uuid.UUID
    role: TeamRole


class TeamOut(BaseModel):
    id: uuid.UUID
    institution_id: uuid.UUID
    name: str
    members: list[TeamMemberOut]
    member_account_ids: list[uuid.UUID]


class TeamPatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID


class FollowUpPlanCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "3c9f1a52-7d4e-4b8a-9e21-6a0d5f2c8b17",
                    "discharged_on": "2026-11-20",
                    "interval_days": 14,
                    "review_items": ["糖化血红蛋白", "空腹血糖", "家庭血压记录"],
                    "ends_on": "2027-05-20",
                }
            ]
        },
    )

    patient_id: uuid.UUID
    discharged_on: CalendarDate = Field(description="City date of discharge")
    interval_days: int = Field(ge=1, le=365)
    review_items: list[str] = Field(
        min_length=1, max_length=20, examples=[["HbA1c", "home blood pressure diary"]]
    )
    ends_on: CalendarDate | None = Field(
        default=None, description="No follow-up is scheduled after it"
    )


class FollowUpOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    plan_id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    sequence: int
    due_at: datetime
    status: FollowUpStatus
    overdue: bool
    outcome_note: str | None
    closed_at: datetime | None
    review_items: list[str]


class FollowUpPlanOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    discharged_on: date
    interval_days: int
    review_items: list[str]
    ends_on: date | None
    status: Literal["active", "ended"]
    follow_ups: list[FollowUpOut]


class FollowUpClose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class ReferralCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: uuid.UUID
    direction: Literal["up", "down"]
    to_institution_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class ReferralDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    patient_id: uuid.UUID
    direction: Literal["up", "down"]
    priority: Literal["normal", "priority"]
    status: ReferralStatus
    from_doctor_id: uuid.UUID
    from_institution_id: uuid.UUID
    to_institution_id: uuid.UUID
    to_doctor_id: uuid.UUID | None
    reason: str
    decision_reason: str | None
    requested_at: datetime
    decided_at: datetime | None
    completed_at: datetime | None
