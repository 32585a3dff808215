"""Turning a parsed item into a row of `readings`, or into the reason it cannot be one."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from app.config import Settings
from app.device.schemas import MAX_INTERVAL_SECONDS
from app.reading.items import (
    BloodPressureItem,
    EcgSummaryItem,
    GlucoseItem,
    HeartRateItem,
    ParsedItem,
    Rejection,
)
from app.reading.units import other_glucose_unit, to_mg_dl

# Which reading kinds each kind of device produces.
KINDS_BY_DEVICE = {
    "cgm": frozenset({"cgm", "scan"}),
    "meter": frozenset({"bg"}),
    "bp": frozenset({"bp", "hr"}),
    "ecg": frozenset({"ecg", "hr"}),
}
# Measuring ranges (mg/dL) when a glucose device was bound without one.
DEFAULT_GLUCOSE_RANGES = {"cgm": (40.0, 400.0), "meter": (20.0, 600.0)}
SYSTOLIC_RANGE = (50.0, 300.0)
DIASTOLIC_RANGE = (20.0, 200.0)
HEART_RATE_RANGE = (20.0, 300.0)

Row = dict[str, Any]


class BoundDevice(Protocol):
    """The columns of a bound device that validation looks at."""

    id: uuid.UUID
    kind: str
    unit: str
    source: str
    sample_interval_seconds: int | None
    range_low_mg_dl: float | None
    range_high_mg_dl: float | None


@dataclass(frozen=True)
class DeviceInfo:
    """What validation needs to know about a bound device (worked out once per batch)."""

    id: uuid.UUID
    unit: str
    sample_interval_seconds: int | None
    glucose_range: tuple[float, float]  # measuring range in mg/dL
    kinds: frozenset[str]  # reading kinds it produces

    @classmethod
    def of(cls, device: BoundDevice) -> DeviceInfo:
        """The validation view of a device row."""
        low, high = DEFAULT_GLUCOSE_RANGES.get(device.kind, (20.0, 600.0))
        kinds = KINDS_BY_DEVICE[device.kind]
        if device.kind == "cgm" and device.source in ("nightscout", "import"):
            # An uploader forwards finger-sticks (mbg) along with the CGM's values, and a
            # reader's export holds the strips measured with its built-in meter.
            kinds = kinds | {"bg"}
        return cls(
            id=device.id,
            unit=device.unit,
            sample_interval_seconds=device.sample_interval_seconds,
            glucose_range=(device.range_low_mg_dl or low, device.range_high_mg_dl or high),
            kinds=kinds,
        )


@dataclass(frozen=True)
class BatchContext:
    """Per-batch facts: who, when, from where, and the time limits of its items."""

    patient_id: uuid.UUID
    timezone: ZoneInfo
    devices: dict[uuid.UUID, DeviceInfo]
    received_at: datetime
    source: str
    latest_allowed: datetime  # later is in the future beyond the clock skew
    earliest_allowed: datetime  # earlier is beyond the backfill window
    live_since: datetime  # earlier arrives as a backfilled point
    cgm_spacing_ratio: float  # CGM readings of a device this share of its interval apart
    min_spacing_seconds: int  # readings of other kinds at least this far apart

    @classmethod
    def at(
        cls,
        received_at: datetime,
        *,
        patient_id: uuid.UUID,
        timezone: ZoneInfo,
        devices: dict[uuid.UUID, DeviceInfo],
        source: str,
        settings: Settings,
        history: bool = False,
    ) -> BatchContext:
        """The context of a batch received at `received_at` under `settings`' limits. A
        `history` batch (a file import) reaches back `READING_IMPORT_HISTORY_DAYS` and is
        backfilled throughout: it raises no live alert."""
        window = (
            settings.reading_import_history_days
            if history
            else settings.reading_backfill_window_days
        )
        return cls(
            patient_id=patient_id,
            timezone=timezone,
            devices=devices,
            received_at=received_at,
            source=source,
            latest_allowed=received_at + timedelta(seconds=settings.reading_clock_skew_seconds),
            earliest_allowed=received_at - timedelta(days=window),
            live_since=(
                datetime.max.replace(tzinfo=UTC)
                if history
                else received_at - timedelta(seconds=settings.reading_backfill_after_seconds)
            ),
            cgm_spacing_ratio=settings.reading_cgm_min_spacing_ratio,
            min_spacing_seconds=settings.reading_min_spacing_seconds,
        )

    def spacing_seconds(self, device_id: uuid.UUID, kind: str) -> int:
        """The least plausible time between two readings of this kind from this device."""
        interval = self.devices[device_id].sample_interval_seconds
        if kind == "cgm" and interval:
            return max(1, math.ceil(interval * self.cgm_spacing_ratio))
        return self.min_spacing_seconds


def widest_spacing_seconds(settings: Settings) -> int:
    """The longest spacing any device can have (its CGM interval is at most 900 s)."""
    return max(
        settings.reading_min_spacing_seconds,
        math.ceil(MAX_INTERVAL_SECONDS * settings.reading_cgm_min_spacing_ratio),
    )


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _glucose_fields(item: GlucoseItem, device: DeviceInfo) -> Row | Rejection:
    # A glucose unit the item names is taken as said (a device bound without a unit defaults
    # to mmol/L, and its phone may well label mg/dL); without one, the device's unit.
    unit = item.unit or device.unit
    if unit not in ("mg/dL", "mmol/L"):
        return Rejection("wrong_unit", "unit", {"expected": "mg/dL / mmol/L"})
    low, high = device.glucose_range
    if item.flag is not None:
        # LOW / HIGH: below / above the measuring range; stored at the range edge, flagged.
        edge = low if item.flag == "low" else high
        return {"value": edge, "flag": item.flag, "original_value": item.value}
    if item.value is None:
        return Rejection("malformed", "value")
    mg_dl = to_mg_dl(item.value, unit)
    if not _within(mg_dl, (low, high)):
        # A value the device could not have measured in this unit, but could in the other one,
        # was sent in the wrong unit; anything else is out of the device's range.
        other = other_glucose_unit(unit)
        if _within(to_mg_dl(item.value, other), (low, high)):
            return Rejection("wrong_unit", "value", {"expected": other})
        return Rejection("out_of_range", "value")
    return {"value": mg_dl, "flag": None, "original_value": item.value}


def _measurement_fields(item: ParsedItem, device: DeviceInfo) -> Row | Rejection:
    if isinstance(item, GlucoseItem):
        fields = _glucose_fields(item, device)
        if isinstance(fields, dict):
            fields["original_unit"] = item.unit or device.unit
            fields["sample_interval_seconds"] = (
                device.sample_interval_seconds if item.kind == "cgm" else None
            )
            fields["trend"] = item.trend
            fields["noise"] = item.noise
            fields["filtered"] = item.filtered
            fields["unfiltered"] = item.unfiltered
            fields["source_device"] = item.source_device
        return fields
    if isinstance(item, BloodPressureItem):
        if item.unit not in (None, "mmHg"):
            return Rejection("wrong_unit", "unit", {"expected": "mmHg"})
        if not _within(item.systolic, SYSTOLIC_RANGE):
            return Rejection("out_of_range", "systolic")
        if not _within(item.diastolic, DIASTOLIC_RANGE) or item.diastolic >= item.systolic:
            return Rejection("out_of_range", "diastolic")
        if item.pulse is not None and not _within(item.pulse, HEART_RATE_RANGE):
            return Rejection("out_of_range", "pulse")
        return {
            "value": item.systolic,
            "value2": item.diastolic,
            "value3": item.pulse,
            "label": item.posture,
            "setting": item.setting,
            "awake": item.wake,
        }
    if isinstance(item, HeartRateItem):
        if not _within(item.bpm, HEART_RATE_RANGE):
            return Rejection("out_of_range", "bpm")
        return {"value": item.bpm}
    assert isinstance(item, EcgSummaryItem)
    rates = (item.min_bpm, item.mean_bpm, item.max_bpm)
    if not all(_within(r, HEART_RATE_RANGE) for r in rates) or sorted(rates) != list(rates):
        return Rejection("out_of_range", "mean_bpm")
    return {"value": item.mean_bpm, "value2": item.min_bpm, "value3": item.max_bpm,
            "label": item.rhythm}  # fmt: skip


def to_row(item: ParsedItem, batch: BatchContext) -> Row | Rejection:
    """The `readings` row for a parsed item, or why it is rejected."""
    device = batch.devices.get(item.device_id)
    if device is None:
        return Rejection("device_not_bound", "device_id")
    if item.kind not in device.kinds:
        return Rejection("kind_not_from_device", "kind")
    measured_at = item.measured_at.astimezone(UTC)
    if measured_at > batch.latest_allowed:
        return Rejection("in_future", "measured_at")
    if measured_at < batch.earliest_allowed:
        return Rejection("too_old", "measured_at")
    fields = _measurement_fields(item, device)
    if isinstance(fields, Rejection):
        return fields
    offset = item.utc_offset_minutes
    if offset is None:
        local_offset = measured_at.astimezone(batch.timezone).utcoffset()
        offset = int(local_offset.total_seconds() // 60) if local_offset else 0
    # Built in place (this runs for every item of every upload): the optional columns, the
    # measurement's fields over them, then the item's own.
    row = {**_OPTIONAL, **fields}
    row["device_id"] = device.id
    row["kind"] = item.kind
    row["measured_at"] = measured_at
    row["patient_id"] = batch.patient_id
    row["utc_offset_minutes"] = offset
    row["backfilled"] = item.backfill or measured_at < batch.live_since
    row["source"] = batch.source
    row["received_at"] = batch.received_at
    return row


_OPTIONAL = dict.fromkeys(
    (
        "value2",
        "value3",
        "flag",
        "original_value",
        "original_unit",
        "label",
        "sample_interval_seconds",
        "trend",
        "noise",
        "filtered",
        "unfiltered",
        "source_device",
        "setting",
        "awake",
    )
)


def reading_row(**fields: Any) -> Row:
    """A complete `readings` row: the given fields, None for the optional ones not given."""
    return {**_OPTIONAL, **fields}
