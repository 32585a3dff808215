"""Device binding bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from app.models import Device, SensorSession

DeviceKind = Literal["cgm", "bp", "ecg", "meter"]
DeviceUnit = Literal["mg/dL", "mmol/L", "mmHg", "bpm"]

UNITS_BY_KIND: dict[str, tuple[str, ...]] = {
    "cgm": ("mmol/L", "mg/dL"),
    "meter": ("mmol/L", "mg/dL"),
    "bp": ("mmHg",),
    "ecg": ("bpm",),
}

# The longest sample interval a device may declare (60-900 s); analytics fetches the reading
# after a period's end to weigh its last one, and ingestion spaces CGM readings by it.
MAX_INTERVAL_SECONDS = 900


class DeviceCreate(BaseModel):
    """Bind a device to the signed-in patient."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind = Field(description="cgm, bp (blood pressure), ecg (patch), meter")
    model: str = Field(min_length=1, max_length=64, examples=["Dexcom G7", "Omron J760"])
    serial: str = Field(min_length=1, max_length=64)
    unit: DeviceUnit | None = Field(
        default=None, description="What it reports; glucose devices default to mmol/L"
    )
    sample_interval_seconds: int | None = Field(
        default=None,
        ge=60,
        le=MAX_INTERVAL_SECONDS,
        description="CGM sampling interval (default 300)",
    )
    range_low_mg_dl: float | None = Field(default=None, ge=10, le=100)
    range_high_mg_dl: float | None = Field(default=None, ge=200, le=1000)
    pairing_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description=(
            "Proof of possession: the pairing code printed with the device or shown by its app. "
            "Required for a serial registered by its vendor or clinic; without one the binding "
            "is an unproven claim that the owner's proven binding ends."
        ),
    )

    @model_validator(mode="after")
    def _unit_fits_kind(self) -> DeviceCreate:
        allowed = UNITS_BY_KIND[self.kind]
        if self.unit is None:
            self.unit = allowed[0]  # type: ignore[assignment]
        elif self.unit not in allowed:
            raise ValueError(f"a {self.kind} device reports in {' or '.join(allowed)}")
        return self


class SensorSessionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    device_id: uuid.UUID
    started_at: datetime
    expected_end_at: datetime
    ended_at: datetime | None


class SensorSessionStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: AwareDatetime | None = Field(default=None, description="Now when omitted")
    expected_days: int = Field(default=14, ge=1, le=30)


class DeviceOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    kind: DeviceKind
    model: str
    serial: str
    unit: DeviceUnit
    sample_interval_seconds: int | None
    range_low_mg_dl: float | None
    range_high_mg_dl: float | None
    source: Literal["app", "nightscout", "import"]
    verified: bool = Field(description="The patient proved possession (pairing code)")
    bound_at: datetime
    unbound_at: datetime | None
    sensor_session: SensorSessionOut | None = Field(description="The running CGM sensor")

    @classmethod
    def build(cls, device: Device, running: SensorSession | None) -> DeviceOut:
        """The body of a device and its running sensor session."""
        return cls(
            id=device.id,
            patient_id=device.patient_id,
            kind=device.kind,
            model=device.model,
            serial=device.serial,
            unit=device.unit,
            sample_interval_seconds=device.sample_interval_seconds,
            range_low_mg_dl=device.range_low_mg_dl,
            range_high_mg_dl=device.range_high_mg_dl,
            source=device.source,
            verified=device.verified,
            bound_at=device.bound_at,
            unbound_at=device.unbound_at,
            sensor_session=SensorSessionOut.model_validate(running) if running else None,
        )


class DeviceRegistrationItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    model: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=64)
    pairing_code: str = Field(
        min_length=4, max_length=32, description="As printed with the device or shown by its app"
    )


class DeviceRegistrationBatch(BaseModel):
    """Serials handed out in the pilot with their pairing codes (a vendor's delivery manifest,
    or a clinic registering the devices it hands over)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["vendor", "clinic"]
    devices: list[DeviceRegistrationItem] = Field(min_length=1, max_length=5000)


class DeviceRegistrationResult(BaseModel):
    kind: DeviceKind
    serial: str
    status: Literal["registered", "duplicate"] = Field(
        description="duplicate: the serial was registered before (its code is unchanged)"
    )


class DeviceRegistrationReport(BaseModel):
    registered: int
    duplicate: int
    items: list[DeviceRegistrationResult]
