"""Doctor bodies: public profile, working hours, presence, admin changes."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PresenceStatus = Literal["online", "busy", "offline"]


class WorkingHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    starts_at: time = Field(description="Asia/Shanghai wall time")
    ends_at: time


class WorkingHoursOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    starts_at: time
    ends_at: time


class PresenceOut(BaseModel):
    status: PresenceStatus
    expires_at: datetime | None


class DoctorOut(BaseModel):
    id: uuid.UUID
    name: str
    institution_id: uuid.UUID
    department_zh: str
    title_zh: str
    specialties: list[str]
    max_active_patients: int
    active_patients: int
    waiting_consultations: int
    presence: PresenceOut
    working_hours: list[WorkingHoursOut]


class DoctorUpdate(BaseModel):
    """Admin changes to a doctor's profile; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    department_zh: str | None = Field(default=None, min_length=1, max_length=32)
    title_zh: str | None = Field(default=None, min_length=1, max_length=32)
    specialties: list[str] | None = Field(default=None, max_length=20)
    max_active_patients: int | None = Field(default=None, ge=1, le=5000)
