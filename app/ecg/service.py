"""Rules of ECG strips: upload (checked, analysed, idempotent), scoped reads, live alerts."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.alert import service as alert_service
from app.alert.rules import ECG_STRIP_KIND
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device import repository as device_repository
from app.device import service as device_service
from app.ecg import repository as ecg_repository
from app.ecg.analysis import FloatArray, analyse
from app.ecg.formats import ParsedStrip, StripUnreadable, parse
from app.errors import AppError, Conflict, NotFound
from app.kit.blobstore import BlobNotFound, BlobStore, new_blob_key
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import Device, EcgStrip, Patient
from app.reading import service as reading_service
from app.realtime.hub import RealtimeHub

RESOURCE = "ecg_strip"
# Samples in the blob store: little-endian float64 microvolts.
SAMPLE_DTYPE = np.dtype("<f8")
SAMPLES_CONTENT_TYPE = "application/octet-stream"


class UploadTooLarge(AppError):
    status = 413
    code = "ecg_upload_too_large"


@dataclass(frozen=True)
class Upload:
    """A stored strip, and whether this upload stored it (False: a duplicate)."""

    strip: EcgStrip
    created: bool


def _check_shape(settings: Settings, parsed: ParsedStrip, now: datetime) -> None:
    if not settings.ecg_min_rate_hz <= parsed.rate_hz <= settings.ecg_max_rate_hz:
        raise StripUnreadable(
            "ecg_rate_out_of_range", low=settings.ecg_min_rate_hz, high=settings.ecg_max_rate_hz
        )
    seconds = parsed.samples_uv.size / parsed.rate_hz
    if not settings.ecg_min_seconds <= seconds <= settings.ecg_max_seconds:
        raise StripUnreadable(
            "ecg_duration_out_of_range",
            low=settings.ecg_min_seconds,
            high=settings.ecg_max_seconds,
        )
    if parsed.recorded_at > now + timedelta(seconds=settings.reading_clock_skew_seconds):
        raise StripUnreadable("ecg_recorded_in_future")


async def _device(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    parsed: ParsedStrip,
    device_id: uuid.UUID | None,
    now: datetime,
) -> Device:
    assert principal.patient_id is not None
    wanted = device_id or parsed.device_id
    if wanted is not None:
        device = await device_repository.get_visible(session, principal, wanted, now)
        if device is None or device.patient_id != principal.patient_id:
            raise NotFound()
        if device.kind != "ecg":
            raise StripUnreadable("ecg_device_not_ecg")
        return device
    if parsed.device_model is None:
        raise StripUnreadable("ecg_device_required")
    # An Apple Watch export names the watch's model, not its serial: one device per model.
    device, _ = await device_service.ensure_device(
        session,
        settings,
        principal.patient_id,
        kind="ecg",
        model=f"Apple Watch {parsed.device_model}",
        serial=f"apple-watch:{parsed.device_model}",
        unit="bpm",
        source="import",
        sample_interval_seconds=None,
    )
    return device


async def _existing(
    session: AsyncSession, device_id: uuid.UUID, at: datetime, digest: str
) -> Upload:
    strip = await ecg_repository.by_natural_key(session, device_id, at)
    assert strip is not None
    if strip.samples_sha256 != digest:
        raise Conflict("ecg_strip_conflict")
    return Upload(strip, created=False)


async def upload(
    session: AsyncSession,
    settings: Settings,
    blobs: BlobStore,
    hub: RealtimeHub,
    principal: Principal,
    content_type: str | None,
    body: bytes,
    device_id: uuid.UUID | None,
) -> Upload:
    """Store a strip from the signed-in patient: checked, analysed, samples in the blob store.

    The same strip again (same device and start, same samples) is a duplicate; other samples
    under that key are a conflict (409). A live strip with irregular rhythm raises the doctor's
    alert, once per episode."""
    assert principal.patient_id is not None
    if len(body) > settings.ecg_upload_max_bytes:
        raise UploadTooLarge(limit=settings.ecg_upload_max_bytes)
    now = utcnow()
    parsed = parse(content_type, body)
    _check_shape(settings, parsed, now)
    device = await _device(session, settings, principal, parsed, device_id, now)
    data = parsed.samples_uv.astype(SAMPLE_DTYPE).tobytes()
    digest = hashlib.sha256(data).hexdigest()
    if await ecg_repository.by_natural_key(session, device.id, parsed.recorded_at) is not None:
        return await _existing(session, device.id, parsed.recorded_at, digest)
    found = await asyncio.to_thread(
        analyse,
        parsed.samples_uv,
        parsed.rate_hz,
        settings.ecg_irregular_nrmssd,
        settings.ecg_irregular_min_intervals,
    )
    key = new_blob_key(f"ecg/{principal.patient_id}")
    await blobs.put(key, data, SAMPLES_CONTENT_TYPE)
    offset = parsed.recorded_at.utcoffset()
    strip = await ecg_repository.insert(
        session,
        {
            "id": uuid.uuid4(),
            "created_at": now,
            "patient_id": principal.patient_id,
            "device_id": device.id,
            "recorded_at": parsed.recorded_at,
            "utc_offset_minutes": int(offset.total_seconds() // 60) if offset else 0,
            "source": parsed.source,
            "lead": parsed.lead,
            "sampling_rate_hz": parsed.rate_hz,
            "sample_count": int(parsed.samples_uv.size),
            "blob_key": key,
            "samples_sha256": digest,
            "device_rhythm": parsed.rhythm,
            "device_rhythm_text": parsed.rhythm_text,
            "heart_rate_bpm": found.heart_rate_bpm,
            "r_peaks": found.r_peaks,
            "rr_nrmssd": found.nrmssd,
            "rr_irregular": found.irregular,
            "possible_af": found.irregular or parsed.rhythm == "af",
        },
    )
    if strip is None:
        # Stored by a concurrent upload of the same strip since the check above.
        await blobs.delete(key)
        return await _existing(session, device.id, parsed.recorded_at, digest)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, strip.id, strip.patient_id
    )
    live = strip.recorded_at >= now - timedelta(hours=settings.ecg_live_alert_hours)
    row = {
        "kind": ECG_STRIP_KIND,
        "measured_at": strip.recorded_at,
        "backfilled": not live,
        "value": strip.heart_rate_bpm,
        "value2": None,
        "possible_af": strip.possible_af,
        "regular": _judged_regular(settings, strip),
    }
    await alert_service.evaluate(session, settings, hub, strip.patient_id, [row])
    return Upload(strip, created=True)


def _judged_regular(settings: Settings, strip: EcgStrip) -> bool:
    # Regular enough to end an irregular-rhythm episode: RR judged regular on enough intervals,
    # and the device did not call it AF, inconclusive or a poor recording.
    return (
        not strip.possible_af
        and len(strip.r_peaks) - 1 >= settings.ecg_irregular_min_intervals
        and strip.device_rhythm in (None, "sinus", "low_hr", "high_hr")
    )


async def visible_strip(
    session: AsyncSession, principal: Principal, strip_id: uuid.UUID
) -> EcgStrip:
    """A strip the caller may see (the patient's own, or their doctor's patient's), else 404."""
    strip = await ecg_repository.get_visible(session, principal, strip_id, utcnow())
    if strip is None:
        raise NotFound()
    return strip


async def read_strip(session: AsyncSession, principal: Principal, strip_id: uuid.UUID) -> EcgStrip:
    """A visible strip's metadata and analysis, audited."""
    strip = await visible_strip(session, principal, strip_id)
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, strip.id, strip.patient_id
    )
    return strip


async def read_samples(
    session: AsyncSession, blobs: BlobStore, principal: Principal, strip_id: uuid.UUID
) -> tuple[EcgStrip, Patient, FloatArray]:
    """A visible strip with its patient and samples (µV), audited."""
    strip = await read_strip(session, principal, strip_id)
    patient = await by_id(session, Patient, strip.patient_id)
    assert patient is not None
    try:
        data = await blobs.get(strip.blob_key)
    except BlobNotFound:
        raise NotFound() from None
    return strip, patient, np.frombuffer(data, dtype=SAMPLE_DTYPE).astype(np.float64)


async def list_strips(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID,
    before: datetime | None,
    limit: int,
) -> Sequence[EcgStrip]:
    """A patient's strips, newest first (the patient, or a doctor caring for them), audited."""
    patient = await reading_service.visible_patient(session, principal, patient_id)
    strips = await ecg_repository.page(session, patient.id, before, limit)
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(s.id, s.patient_id) for s in strips]
    )
    return strips
