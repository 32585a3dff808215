"""Doctor bodies: public profile, working hours, presence, admin changes."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

PresenceStatus = Literal["online", "busy", "offline"]


def _without_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a wall-clock time has no UTC offset")
    return value


# Working hours are Asia/Shanghai wall-clock times. JSON Schema's "time" format is RFC 3339's
# full-time, which needs an offset; these never have one (an offset is refused).
WallTime = Annotated[
    time,
    AfterValidator(_without_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
            "description": "Asia/Shanghai wall-clock time, HH:MM[:SS], no UTC offset",
        }
    ),
]


class WorkingHoursIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    starts_at: WallTime
    ends_at: WallTime


class WorkingHoursOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    weekday: int
    starts_at: WallTime
    ends_at: WallTime


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
