"""What a client may send per reading, parsed one item at a time so bad items stay apart."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

GLUCOSE_KINDS = frozenset({"cgm", "scan", "bg"})


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    device_id: uuid.UUID
    measured_at: AwareDatetime
    utc_offset_minutes: int | None = Field(default=None, ge=-720, le=840)
    backfill: bool = Field(default=False, description="The phone sends it after the fact")


class GlucoseItem(_Item):
    """A glucose value: CGM (`cgm`), CGM on-demand scan (`scan`) or finger-stick (`bg`)."""

    kind: Literal["cgm", "scan", "bg"]
    value: float | None = Field(default=None, description="In `unit`; null with a flag")
    unit: str | None = Field(
        default=None, max_length=16, description="mg/dL or mmol/L; the device's unit when omitted"
    )
    flag: Literal["low", "high"] | None = Field(
        default=None, description="The device showed LOW / HIGH (outside its measuring range)"
    )
    # What CGM uploaders (Nightscout) send besides the value; kept as sent.
    trend: str | None = Field(
        default=None, max_length=20, description="Trend arrow (Nightscout `direction`)"
    )
    noise: int | None = Field(default=None, ge=0, le=9, description="Noise level (1 clean ... 4)")
    filtered: float | None = Field(default=None, description="Raw filtered sensor value")
    unfiltered: float | None = Field(default=None, description="Raw unfiltered sensor value")
    source_device: str | None = Field(
        default=None, max_length=64, description="The uploader's own device string"
    )


class BloodPressureItem(_Item):
    kind: Literal["bp"]
    systolic: float
    diastolic: float
    pulse: float | None = None
    unit: str | None = Field(default=None, max_length=16, description="mmHg when omitted")
    posture: Literal["sitting", "standing", "lying"] | None = None
    setting: Literal["office", "home", "ambulatory"] | None = Field(
        default=None, description="Where it was measured (the service's default when omitted)"
    )
    wake: bool | None = Field(
        default=None, description="The wearer was awake (true) or asleep (false), if known"
    )


class HeartRateItem(_Item):
    kind: Literal["hr"]
    bpm: float


class EcgSummaryItem(_Item):
    """An ambulatory ECG patch's summary over a period: heart rate and rhythm."""

    kind: Literal["ecg"]
    mean_bpm: float
    min_bpm: float
    max_bpm: float
    rhythm: Literal["sinus", "af", "other"]


ReadingItem = Annotated[
    GlucoseItem | BloodPressureItem | HeartRateItem | EcgSummaryItem,
    Field(discriminator="kind"),
]

_one = TypeAdapter(ReadingItem)
_many = TypeAdapter(list[ReadingItem])


class _Batch(BaseModel):
    items: list[ReadingItem]


class _Envelope(BaseModel):
    items: list[Any]


_batch = TypeAdapter(_Batch)
_envelope = TypeAdapter(_Envelope)


@dataclass(frozen=True)
class Rejection:
    """Why an item was refused: a stable reason code, the field at fault, and the values its
    message names (e.g. the unit expected)."""

    reason: str
    field: str | None = None
    params: Mapping[str, object] = dataclass_field(default_factory=dict)


ParsedItem = GlucoseItem | BloodPressureItem | HeartRateItem | EcgSummaryItem


def _field_of(error: dict[str, Any]) -> str | None:
    # loc is (kind tag, field, ...) inside a discriminated union; keep the field names.
    parts = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
    return ".".join(parts[1:] or parts) or "kind"


def rejection_of(error: dict[str, Any]) -> Rejection:
    """The rejection of an item's first validation error: a time without its UTC offset has a
    reason of its own (the phone must send the offset), anything else is malformed."""
    reason = "offset_missing" if error.get("type") == "timezone_aware" else "malformed"
    return Rejection(reason, _field_of(error))


def parse_batch(body: bytes) -> list[ParsedItem | Rejection]:
    """A batch body (`{"items": [...]}`) parsed straight from JSON; ValidationError if the
    envelope itself is malformed (bad items become rejections)."""
    try:
        return list(_batch.validate_json(body).items)  # the usual case: every item is good
    except ValidationError:
        pass
    return parse_items(_envelope.validate_json(body).items)


def parse_items(raw: list[Any]) -> list[ParsedItem | Rejection]:
    """Each raw JSON item parsed, or its rejection; the list keeps the input order."""
    try:
        return list(_many.validate_python(raw))
    except ValidationError:
        pass  # some items are bad: parse one by one so the good ones are kept
    parsed: list[ParsedItem | Rejection] = []
    for item in raw:
        try:
            parsed.append(_one.validate_python(item))
        except ValidationError as exc:
            parsed.append(rejection_of(exc.errors()[0]))  # type: ignore[arg-type]
    return parsed
