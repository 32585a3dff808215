"""Per-patient Nightscout secrets, uploader authentication, and entries in and out."""

from __future__ import annotations

import hashlib
import math
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
from app.errors import Conflict, NotFound, Unauthorized
from app.kit.clock import utcnow
from app.kit.crypto import blind_index
from app.models import NightscoutCredential, Reading, Role
from app.nightscout import repository as nightscout_repository
from app.nightscout.query import EntryQuery
from app.nightscout.schemas import NightscoutSecret, NightscoutStatus
from app.reading.ingest import ingest
from app.reading.items import GlucoseItem, ParsedItem, Rejection
from app.reading.schemas import UploadReport

RESOURCE = "nightscout_credential"
# A secret set this recently is not replaced: a double press arriving a moment after the first
# one committed would otherwise hand out a second secret and silently kill the first.
ROTATION_SETTLE = timedelta(seconds=10)
_SHA1_HEX = re.compile(r"^[0-9a-fA-F]{40}$")
# Nightscout sgv values below 39 are sensor error codes; 39 is shown as LOW.
NIGHTSCOUT_LOW = 39
NIGHTSCOUT_RANGE_MG_DL = (40.0, 500.0)
# Uploads are authenticated by the secret, not a sign-in session.
UPLOADER_SESSION = uuid.UUID(int=0)
# The Nightscout REST API version this subset follows (cgm-remote-monitor's API v1).
NIGHTSCOUT_API_VERSION = "15.0.3"
# An entry's `delta` is against the device's previous reading at most this much older.
DELTA_WINDOW = timedelta(minutes=15)


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
    """Create the patient's secret, or replace it (the old one stops working at once). A secret
    shown is a secret that works: when the secret was set in the last `ROTATION_SETTLE`, or
    another request made or rotated it after this one looked (a double press), this one is
    409 and its secret never existed."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    seen = await nightscout_repository.rotated_at(session, patient_id)
    if seen is not None and utcnow() - seen < ROTATION_SETTLE:
        raise Conflict("nightscout_credential_changed")
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
    credential_id = await nightscout_repository.set_secret(
        session, patient_id, device.id, blind_index(session, digest), now, seen
    )
    if credential_id is None:
        raise Conflict("nightscout_credential_changed")
    await audit_service.record(
        session, principal, AuditAction.update, RESOURCE, credential_id, patient_id
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


def offered_secret(api_secret: str | None, token: str | None, secret: str | None) -> str | None:
    """What the caller offers as the patient's secret, in the ways Nightscout clients send it:
    the `api-secret` header (SHA-1 hex, the secret, or `token=<secret>` as py-nightscout sends
    a token), `?token=` or `?secret=`."""
    offered = api_secret or token or secret
    if offered and offered.startswith("token="):
        offered = offered.removeprefix("token=")
    return offered or None


async def find_credential(
    session: AsyncSession, offered: str | None
) -> tuple[NightscoutCredential, Principal] | None:
    """The credential an offered secret names, with the uploader's principal; else None."""
    if not offered:
        return None
    if _SHA1_HEX.match(offered):
        digest = offered.lower()
        found = await nightscout_repository.by_secret_index(session, blind_index(session, digest))
    else:
        found = None
    if found is None:
        found = await nightscout_repository.by_secret_index(
            session, blind_index(session, _sha1(offered))
        )
    if found is None:
        return None
    credential, patient, account = found
    principal = Principal(
        account_id=account.id,
        session_id=UPLOADER_SESSION,
        role=Role.patient,
        display_name=f"{account.display_name} (Nightscout)",
        patient_id=patient.id,
    )
    return credential, principal


async def authenticate(
    session: AsyncSession, api_secret: str | None, token: str | None, secret: str | None = None
) -> tuple[NightscoutCredential, Principal]:
    """The credential named by the caller's secret (see `offered_secret`); 401 otherwise."""
    found = await find_credential(session, offered_secret(api_secret, token, secret))
    if found is None:
        raise Unauthorized("nightscout_unauthorized")
    return found


def _moment(entry: dict[str, Any]) -> datetime | Rejection:
    date = entry.get("date")
    if isinstance(date, int | float) and not isinstance(date, bool):
        try:
            return datetime.fromtimestamp(date / 1000.0, UTC)
        except (ValueError, OverflowError, OSError):
            return Rejection("malformed", "date")
    text = entry.get("dateString") or entry.get("sysTime")
    if isinstance(text, str):
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return Rejection("malformed", "dateString")
        return moment if moment.tzinfo else Rejection("offset_missing", "dateString")
    return Rejection("malformed", "date")


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def entry_item(entry: Any, device_id: uuid.UUID) -> ParsedItem | Rejection:
    """One Nightscout entry as an upload item (sgv -> cgm, mbg -> bg), or why it is not one;
    the trend arrow, noise, raw values and the uploader's device string are kept."""
    if not isinstance(entry, dict):
        return Rejection("malformed", None)
    kind, field = {"sgv": ("cgm", "sgv"), "mbg": ("bg", "mbg")}.get(
        entry.get("type", "sgv"), (None, None)
    )
    if kind is None or field is None:
        return Rejection("not_a_reading", "type")
    value = entry.get(field)
    moment = _moment(entry)
    if isinstance(moment, Rejection):
        return moment
    if not isinstance(value, int | float) or isinstance(value, bool):
        return Rejection("malformed", field)
    flag = None
    if kind == "cgm" and value < NIGHTSCOUT_LOW:
        return Rejection("sensor_error", field)
    if kind == "cgm" and value == NIGHTSCOUT_LOW:
        flag, value = "low", None
    offset = entry.get("utcOffset")
    noise = entry.get("noise")
    try:
        return GlucoseItem(
            kind=kind,
            device_id=device_id,
            measured_at=moment,
            utc_offset_minutes=offset if isinstance(offset, int) else None,
            value=value,
            unit="mg/dL",
            flag=flag,
            trend=_text(entry.get("direction"), 20),
            noise=noise if isinstance(noise, int) and 0 <= noise <= 9 else None,
            filtered=_number(entry.get("filtered")),
            unfiltered=_number(entry.get("unfiltered")),
            source_device=_text(entry.get("device"), 64),
        )
    except ValidationError as exc:
        return Rejection("malformed", str(exc.errors()[0]["loc"][0]))


async def upload(
    session: AsyncSession,
    settings: Settings,
    credential: NightscoutCredential,
    principal: Principal,
    entries: Sequence[Any],
) -> UploadReport:
    """Ingest an uploader's entries into the patient's account."""
    assert principal.patient_id is not None
    items = [entry_item(entry, credential.device_id) for entry in entries]
    return await ingest(session, settings, principal, principal.patient_id, items, "nightscout")


def _entry_id(reading: Reading) -> str:
    # 24 hex digits like a Mongo id (readers check the shape): device prefix + time.
    epoch_ms = int(reading.measured_at.timestamp() * 1000)
    kind_digit = "0" if reading.kind == "cgm" else "1"
    return f"{reading.device_id.hex[:11]}{kind_digit}{epoch_ms:012x}"[-24:]


def _whole_mg_dl(value: float) -> int:
    return math.floor(value + 0.5)


def entry_of(reading: Reading, previous: Reading | None) -> dict[str, Any]:
    """A stored reading as a Nightscout entry (mg/dL, newest-first readers' shape). `delta` is
    the change from the device's previous reading within 15 minutes, 0 without one (readers
    such as py-nightscout need a number)."""
    epoch_ms = int(reading.measured_at.timestamp() * 1000)
    is_sgv = reading.kind == "cgm"
    value = NIGHTSCOUT_LOW if reading.flag == "low" else _whole_mg_dl(reading.value)
    delta = 0.0
    if (
        previous is not None
        and previous.device_id == reading.device_id
        and reading.measured_at - previous.measured_at <= DELTA_WINDOW
    ):
        delta = round(reading.value - previous.value, 3)
    moment = reading.measured_at.astimezone(UTC)
    entry: dict[str, Any] = {
        "_id": _entry_id(reading),
        "type": "sgv" if is_sgv else "mbg",
        "sgv" if is_sgv else "mbg": value,
        "date": epoch_ms,
        "dateString": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "sysTime": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "utcOffset": reading.utc_offset_minutes,
        "device": reading.source_device or reading.source,
        "mills": epoch_ms,
    }
    if is_sgv:
        entry["direction"] = reading.trend or "NONE"
        entry["delta"] = delta
        for name in ("noise", "filtered", "unfiltered"):
            if getattr(reading, name) is not None:
                entry[name] = getattr(reading, name)
    return entry


async def find_entries(
    session: AsyncSession, principal: Principal, query: EntryQuery
) -> list[dict[str, Any]]:
    """The patient's entries a reader asked for, newest first (audited as a read)."""
    assert principal.patient_id is not None
    if not query.kinds:
        return []
    # One more than asked: the oldest entry's delta needs the reading before it.
    readings = list(
        await nightscout_repository.entries(
            session,
            principal.patient_id,
            query.kinds,
            query.since,
            query.until,
            (query.value_low, query.value_high),
            query.count + 1,
        )
    )
    await audit_service.record(
        session, principal, AuditAction.read, "readings", None, principal.patient_id
    )
    previous_of: dict[tuple[uuid.UUID, str], Reading] = {}
    entries: list[dict[str, Any]] = []
    for reading in reversed(readings):
        key = (reading.device_id, reading.kind)
        entries.append(entry_of(reading, previous_of.get(key)))
        previous_of[key] = reading
    entries.reverse()
    return entries[: query.count]


def server_status(settings: Settings, authorized: bool) -> dict[str, Any]:
    """`/api/v1/status.json` as Nightscout answers it (the parts readers use)."""
    now = utcnow()
    return {
        "status": "ok",
        "name": "nightscout",
        "version": NIGHTSCOUT_API_VERSION,
        "serverTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "serverTimeEpoch": int(now.timestamp() * 1000),
        "apiEnabled": True,
        "careportalEnabled": False,
        "boluscalcEnabled": False,
        "settings": {
            "units": "mmol",
            "timeFormat": 24,
            "language": "zh_cn",
            "enable": [],
            "thresholds": {
                "bgHigh": _whole_mg_dl(settings.alert_sustained_high_mg_dl),
                "bgTargetTop": 180,
                "bgTargetBottom": 70,
                "bgLow": _whole_mg_dl(settings.alert_urgent_low_mg_dl),
            },
            "authDefaultRoles": "denied",
        },
        "extendedSettings": {"devicestatus": {"advanced": False}},
        "authorized": None,
        "runtimeState": "loaded",
    }


def verify_auth(authorized: bool) -> dict[str, Any]:
    """`/api/v1/verifyauth` as Nightscout answers it: always 200, saying what the caller may do
    (an uploader's secret reads and writes its patient's data, and is no admin)."""
    return {
        "status": 200,
        "message": {
            "canRead": authorized,
            "canWrite": authorized,
            "isAdmin": False,
            "message": "OK" if authorized else "UNAUTHORIZED",
            "rolefound": "FOUND" if authorized else "NOTFOUND",
            "permissions": "ROLE" if authorized else "DEFAULT",
        },
    }
