"""Reading upload and listing bodies, and the per-item upload report."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.pagination import Page
from app.models import Reading
from app.reading.units import to_mmol_l

ReadingKind = Literal["cgm", "scan", "bg", "bp", "hr", "ecg"]
ItemStatus = Literal["accepted", "duplicate", "rejected"]


class ReadingBatch(BaseModel):
    """Readings from the patient's phone. Items are checked one by one (see the report)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "kind": "cgm",
                            "device_id": "5f0c6d2e-8d5b-4a53-9a0e-0f4c1f6f1a11",
                            "measured_at": "2026-11-22T08:05:00+08:00",
                            "utc_offset_minutes": 480,
                            "value": 6.4,
                            "unit": "mmol/L",
                        },
                        {
                            "kind": "bp",
                            "device_id": "7a1d2b3c-1111-4a53-9a0e-0f4c1f6f1a22",
                            "measured_at": "2026-11-22T08:10:00+08:00",
                            "systolic": 142,
                            "diastolic": 91,
                            "pulse": 72,
                            "posture": "sitting",
                        },
                    ]
                }
            ]
        }
    )

    items: list[dict[str, Any]] = Field(
        description=(
            "Each item has `kind` (cgm, scan, bg, bp, hr, ecg), `device_id`, `measured_at` "
            "(with offset), optional `utc_offset_minutes` and `backfill`, and its values: "
            "glucose `value` + `unit` (or `flag` low/high), bp `systolic`/`diastolic`/`pulse`/"
            "`posture`/`setting` (office, home, ambulatory)/`wake` (true, false), hr `bpm`, "
            "ecg `mean_bpm`/`min_bpm`/`max_bpm`/`rhythm`"
        )
    )


class ItemResult(BaseModel):
    index: int
    status: ItemStatus
    reason: str | None = Field(default=None, description="Stable code of a rejection")
    field: str | None = Field(default=None, description="The item's field at fault")
    message: str | None = Field(default=None, description="The reason, for people")


class UploadReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 1,
                    "duplicate": 0,
                    "rejected": 1,
                    "items": [
                        {"index": 0, "status": "accepted"},
                        {
                            "index": 1,
                            "status": "rejected",
                            "reason": "out_of_range",
                            "field": "systolic",
                            "message": "数值超出设备量程或生理范围",
                        },
                    ],
                }
            ]
        }
    )

    accepted: int
    duplicate: int
    rejected: int
    items: list[ItemResult]

    @classmethod
    def of(cls, items: list[ItemResult]) -> UploadReport:
        """The report of these item results, counted."""
        return cls.of_dicts([item.model_dump() for item in items])

    @classmethod
    def of_dicts(cls, items: list[dict[str, Any]]) -> UploadReport:
        """The report of item results given as dicts, counted (validated in one pass)."""
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        for item in items:
            counts[item["status"]] += 1
        return cls.model_validate({**counts, "items": items})


class ReadingOut(BaseModel):
    device_id: uuid.UUID
    kind: ReadingKind
    measured_at: datetime
    utc_offset_minutes: int
    value: float = Field(description="Glucose mg/dL, systolic mmHg, heart rate bpm")
    value_mmol_l: float | None = Field(description="Glucose in mmol/L")
    value2: float | None = Field(description="Diastolic mmHg, or ECG minimum bpm")
    value3: float | None = Field(description="Pulse bpm, or ECG maximum bpm")
    flag: Literal["low", "high"] | None
    original_value: float | None
    original_unit: str | None
    label: str | None = Field(description="BP posture or ECG rhythm")
    setting: Literal["office", "home", "ambulatory"] | None = Field(
        description="BP: where it was measured, as uploaded"
    )
    awake: bool | None = Field(description="BP: the wearer's wake flag, as uploaded")
    backfilled: bool
    source: str

    @classmethod
    def build(cls, reading: Reading) -> ReadingOut:
        """The body of a stored reading."""
        glucose = reading.kind in ("cgm", "scan", "bg")
        return cls(
            device_id=reading.device_id,
            kind=reading.kind,
            measured_at=reading.measured_at,
            utc_offset_minutes=reading.utc_offset_minutes,
            value=reading.value,
            value_mmol_l=to_mmol_l(reading.value) if glucose else None,
            value2=reading.value2,
            value3=reading.value3,
            flag=reading.flag,
            original_value=reading.original_value,
            original_unit=reading.original_unit,
            label=reading.label,
            setting=reading.setting,
            awake=reading.awake,
            backfilled=reading.backfilled,
            source=reading.source,
        )


class ReadingPage(Page[ReadingOut]):
    """A page of readings, newest first."""
