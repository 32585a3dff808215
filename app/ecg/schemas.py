"""Bodies of the ECG strip endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.ecg.analysis import rr_intervals_ms
from app.kit.pagination import Page
from app.models import EcgStrip

Rhythm = Literal["sinus", "af", "low_hr", "high_hr", "inconclusive", "poor_recording", "other"]


class EcgStripOut(BaseModel):
    id: uuid.UUID
    patient_id: uuid.UUID
    device_id: uuid.UUID
    recorded_at: datetime = Field(description="Start of the recording")
    utc_offset_minutes: int
    source: Literal["fhir", "apple_csv"] = Field(
        description="fhir (Observation with SampledData) or apple_csv (Apple Watch ECG export)"
    )
    lead: str
    sampling_rate_hz: float
    sample_count: int
    duration_seconds: float
    device_rhythm: Rhythm | None = Field(description="The device's own classification")
    device_rhythm_text: str | None = Field(description="The classification as the device wrote it")
    heart_rate_bpm: float | None = Field(description="60000 / mean R-R interval")
    r_peaks: list[int] = Field(description="Sample positions of the R peaks")
    rr_intervals_ms: list[float]
    rr_nrmssd: float | None = Field(description="RMSSD / mean of the R-R intervals")
    rr_irregular: bool = Field(description="R-R irregularity above the configured threshold")
    possible_af: bool = Field(description="Irregular R-R, or the device classified AF")
    created_at: datetime

    @classmethod
    def build(cls, strip: EcgStrip) -> EcgStripOut:
        """The body of a strip."""
        rate = strip.sampling_rate_hz
        peaks = list(strip.r_peaks)
        return cls(
            id=strip.id,
            patient_id=strip.patient_id,
            device_id=strip.device_id,
            recorded_at=strip.recorded_at,
            utc_offset_minutes=strip.utc_offset_minutes,
            source=strip.source,
            lead=strip.lead,
            sampling_rate_hz=rate,
            sample_count=strip.sample_count,
            duration_seconds=round(strip.sample_count / rate, 3),
            device_rhythm=strip.device_rhythm,
            device_rhythm_text=strip.device_rhythm_text,
            heart_rate_bpm=strip.heart_rate_bpm,
            r_peaks=peaks,
            rr_intervals_ms=rr_intervals_ms(peaks, rate),
            rr_nrmssd=strip.rr_nrmssd,
            rr_irregular=strip.rr_irregular,
            possible_af=strip.possible_af,
            created_at=strip.created_at,
        )


class EcgUploadOut(EcgStripOut):
    status: Literal["accepted", "duplicate"] = Field(
        description="duplicate: this strip (same device and start) was stored before"
    )


class EcgStripPage(Page[EcgStripOut]):
    """A page of strips, newest first."""
