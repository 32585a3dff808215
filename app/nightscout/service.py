"""Per-patient Nightscout secrets, uploader authentication, and entries in and out."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device import service as device_service
from app.errors import NotFound, Unauthorized
from app.kit.clock import utcnow
from app.kit.crypto import blind_index
from app.models import NightscoutCredential, Role
from app.nightscout import repository as nightscout_repository
from app.nightscout.schemas import NightscoutSecret, NightscoutStatus
from app.reading import repository as reading_repository
from app.reading.ingest import ingest
from app.reading.items import GlucoseItem, ParsedItem, Rejection
from app.reading.schemas import UploadReport
from app.realtime.hub import RealtimeHub

RESOURCE = "nightscout_credential"
_SHA1_HEX = re.compile(r"^[0-9a-fA-F]{40}$")
# Nightscout sgv values below 39 are sensor error codes; 39 is shown as LOW.
NIGHTSCOUT_LOW = 39
NIGHTSCOUT_RANGE_MG_DL = (40.0, 500.0)
# Uploads are authenticated by the secret, not a sign-in session.
UPLOADER_SESSION = uuid.UUID(int=0)


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - the Nightscout protocol's hash


async def status(session: AsyncSession, principal: Principal) -> NightscoutStatus:
    """Whether the signed-in patient has a secret, and since when."""
    assert principal.patient_id is not None
    found = await nightscout_repository.for_patient(session, principal.patient_id)
    if found is None:
        return NightscoutStatus(configured=False, rotated_at=None, device_id=None)
    return NightscoutStatus(configured=True, rotated_at=found.rotated_at, device_id=found.device_id)


async def rotate(
    session: AsyncSession, settings: Settings, principal: Principal
) -> NightscoutSecret:
    """Create the patient's secret, or replace it (the old one stops working at once)."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    device, _ = await device_service.ensure_device(
        session,
        settings,
        patient_id,
        kind="cgm",
        model="Nightscout uploader",
        serial=f"nightscout-{patient_id.hex}",
        unit="mg/dL",
        source="nightscout",
        sample_interval_seconds=300,
        range_mg_dl=NIGHTSCOUT_RANGE_MG_DL,
        verified=True,  # a serial made for this patient: nobody else can hold it
    )
    secret = secrets.token_urlsafe(18)
    digest = _sha1(secret)
    now = utcnow()
    credential = await nightscout_repository.for_patient(session, patient_id)
    if credential is None:
        credential = NightscoutCredential(patient_id=patient_id, device_id=device.id)
        session.add(credential)
    credential.secret_index = blind_index(digest)
    credential.device_id = device.id
    credential.rotated_at = now
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.update, RESOURCE, credential.id, patient_id
    )
    return NightscoutSecret(
        secret=secret,
        api_secret_sha1=digest,
        rotated_at=now,
        device_id=device.id,
        base_path="/",
    )


async def revoke(session: AsyncSession, principal: Principal) -> None:
    """Delete the patient's secret; uploaders using it are refused from now on."""
    assert principal.patient_id is not None
    if not await nightscout_repository.remove(session, principal.patient_id):
        raise NotFound("nightscout_not_configured")
    await audit_service.record(
        session, principal, AuditAction.delete, RESOURCE, None, principal.patient_id
    )


async def authenticate(
    session: AsyncSession, api_secret: str | None, token: str | None
) -> tuple[NightscoutCredential, Principal]:
    """The credential named by an `api-secret` header (SHA-1 hex, or the secret itself) or a
    `token` (the secret); 401 otherwise."""
    offered = api_secret or token
    if not offered:
        raise Unauthorized("nightscout_unauthorized")
    digest = offered.lower() if _SHA1_HEX.match(offered) else _sha1(offered)
    found = await nightscout_repository.by_secret_index(session, blind_index(digest))
    if found is None:
        raise Unauthorized("nightscout_unauthorized")
    credential, patient, account = found
    principal = Principal(
        account_id=account.id,
        session_id=UPLOADER_SESSION,
        role=Role.patient,
        display_name=f"{account.display_name} (Nightscout)",
        patient_id=patient.id,
    )
    return credential, principal


def _moment(entry: dict[str, Any]) -> datetime | None:
    date = entry.get("date")
    if isinstance(date, int | float) and not isinstance(date, bool):
        return datetime.fromtimestamp(date / 1000.0, UTC)
    text = entry.get("dateString") or entry.get("sysTime")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else None
    return None


def entry_item(entry: Any, device_id: uuid.UUID) -> ParsedItem | Rejection:
    """One Nightscout entry as an upload item (sgv -> cgm, mbg -> bg), or why it is not one."""
    if not isinstance(entry, dict):
        return Rejection("malformed", None)
    kind, field = {"sgv": ("cgm", "sgv"), "mbg": ("bg", "mbg")}.get(
        entry.get("type", "sgv"), (None, None)
    )
    if kind is None or field is None:
        return Rejection("not_a_reading", "type")
    value = entry.get(field)
    moment = _moment(entry)
    if moment is None:
        return Rejection("malformed", "date")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return Rejection("malformed", field)
    flag = None
    if kind == "cgm" and value < NIGHTSCOUT_LOW:
        return Rejection("sensor_error", field)
    if kind == "cgm" and value == NIGHTSCOUT_LOW:
        flag, value = "low", None
    offset = entry.get("utcOffset")
    try:
        return GlucoseItem(
            kind=kind,  # type: ignore[arg-type]
            device_id=device_id,
            measured_at=moment,
            utc_offset_minutes=offset if isinstance(offset, int) else None,
            value=value,
            unit="mg/dL",
            flag=flag,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        return Rejection("malformed", str(exc.errors()[0]["loc"][0]))


async def upload(
    session: AsyncSession,
    settings: Settings,
    hub: RealtimeHub,
    credential: NightscoutCredential,
    principal: Principal,
    entries: Sequence[Any],
) -> UploadReport:
    """Ingest an uploader's entries into the patient's account."""
    assert principal.patient_id is not None
    items = [entry_item(entry, credential.device_id) for entry in entries]
    return await ingest(
        session, settings, hub, principal, principal.patient_id, items, "nightscout"
    )


async def recent(
    session: AsyncSession, settings: Settings, principal: Principal, count: int
) -> list[dict[str, Any]]:
    """The patient's latest glucose entries in Nightscout's format, newest first."""
    assert principal.patient_id is not None
    now = utcnow()
    since = now - timedelta(days=settings.reading_backfill_window_days)
    readings = await reading_repository.page(
        session, principal.patient_id, ("cgm", "bg"), since, now, count
    )
    await audit_service.record(
        session, principal, AuditAction.read, "readings", None, principal.patient_id
    )
    entries = []
    for reading in readings:
        epoch_ms = int(reading.measured_at.timestamp() * 1000)
        is_sgv = reading.kind == "cgm"
        value = NIGHTSCOUT_LOW if reading.flag == "low" else round(reading.value)
        entries.append(
            {
                "_id": f"{reading.device_id.hex[:8]}{reading.kind}{epoch_ms}",
                "type": "sgv" if is_sgv else "mbg",
                "sgv" if is_sgv else "mbg": value,
                "date": epoch_ms,
                "dateString": reading.measured_at.isoformat().replace("+00:00", "Z"),
                "utcOffset": reading.utc_offset_minutes,
                "device": reading.source,
            }
        )
    return entries
