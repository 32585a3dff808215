"""Enrollment bodies: applications, records, decisions, entitlements, reviewer grants."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.kit.time_bounds import CalendarDate

# Four digits at most here; a year after the city's current one is refused by the service
# (409: it depends on the clock).
DiagnosedYear = Annotated[int, Field(ge=1900, le=9999, examples=[2015])]
ApplicationStatus = Literal["draft", "pending", "approved", "rejected", "withdrawn"]


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disease_code: str = Field(min_length=1, max_length=16, examples=["M01603"])
    institution_id: uuid.UUID = Field(description="Any designated institution")
    statement: str | None = Field(default=None, max_length=1000)
    diagnosed_year: DiagnosedYear | None = Field(
        default=None,
        description="Year the disease was diagnosed (the disease course the assignment weighs)",
    )


class RecordOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    created_at: datetime


class EntitlementOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    disease_code: str
    disease_name_zh: str
    institution_id: uuid.UUID
    application_id: uuid.UUID
    valid_from: date
    valid_until: date
    active: bool = Field(description="Valid today (city date)")


class ApplicationOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    patient_name: str | None
    disease_code: str
    disease_name_zh: str
    institution_id: uuid.UUID
    status: ApplicationStatus
    statement: str | None
    diagnosed_year: int | None
    submitted_at: datetime | None
    decided_at: datetime | None
    decision_reason: str | None
    records: list[RecordOut]
    entitlement: EntitlementOut | None


class ApplicationPage(Page[ApplicationOut]):
    """A page of applications, by id."""


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    reason: str | None = Field(default=None, max_length=500, description="Required to reject")
    valid_until: CalendarDate | None = Field(
        default=None, description="Last valid city date (default: the configured validity)"
    )
    diagnosed_year: DiagnosedYear | None = Field(
        default=None,
        description="On approval: the year of diagnosis the records show, if not the patient's",
    )


class ReviewerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doctor_id: uuid.UUID


class ReviewerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    doctor_id: uuid.UUID
    institution_id: uuid.UUID
    created_at: datetime
