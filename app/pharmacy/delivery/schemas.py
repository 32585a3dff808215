"""Request and response shapes of the delivery endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.pharmacy.delivery.states import Place

# Drug traceability codes: 20 digits, one per box.
TRACEABILITY_CODE = r"^\d{20}$"


class Where(BaseModel):
    """Where the step happened: GPS from the device when it has it, else a description."""

    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    place: str | None = Field(default=None, max_length=128)

    def to_place(self) -> Place:
        return Place(self.lat, self.lng, self.place)


class StepIn(Where):
    """A plain step (accept, pick, complete, return)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"lat": 37.8612, "lng": 113.5801, "place": "阳泉市城区南大街老百姓大药房门口"},
                {"place": "盂县秀水镇，无GPS信号"},
            ]
        }
    )


class ReasonIn(Where):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "患者不在家，电话两次无人接听，已在门口等候10分钟",
                    "lat": 37.8571,
                    "lng": 113.5683,
                    "place": "城区桃北东街15号院3号楼",
                }
            ]
        }
    )

    reason: str = Field(min_length=1, max_length=500)


class BoxIn(BaseModel):
    drug_id: uuid.UUID
    code: str = Field(pattern=TRACEABILITY_CODE)


class ScanIn(BaseModel):
    boxes: list[BoxIn] = Field(min_length=1, max_length=200)


class ScanItemOut(BaseModel):
    code: str
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str | None


class ScanOut(BaseModel):
    items: list[ScanItemOut]
    complete: bool


class DispatchIn(Where):
    courier_account_id: uuid.UUID
    seal_id: str | None = Field(default=None, min_length=4, max_length=40)


class HandoverIn(Where):
    code: str = Field(pattern=r"^\d{6}$")
    seal_id: str | None = Field(default=None, max_length=40)


class LocationIn(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class LocationOut(BaseModel):
    recorded: bool
    eta_at: datetime | None


class TemperatureIn(BaseModel):
    measured_at: AwareDatetime
    celsius: Decimal = Field(ge=-40, le=60, max_digits=4, decimal_places=1)


class TemperatureLogIn(BaseModel):
    seal_id: str | None = Field(default=None, max_length=40)
    readings: list[TemperatureIn] = Field(min_length=1, max_length=500)


class TemperatureItemOut(BaseModel):
    """What became of one reading: accepted (`late` when it arrived after hand-over: kept as
    evidence, decides nothing), duplicate, or rejected with a reason (`measured_in_future`,
    `measured_after_handover`) and a translated message; rejected readings are not stored."""

    measured_at: datetime
    outcome: Literal["accepted", "duplicate", "rejected"]
    reason: str | None
    message: str | None
    in_range: bool | None
    late: bool


class TemperatureLogOut(BaseModel):
    recorded: int
    duplicates: int
    rejected: int
    # True only when this log failed the delivery (a reading taken in transit outside 2-8 C).
    excursion: bool
    status: str
    items: list[TemperatureItemOut]
