"""Medical-record attachments: type by content (magic bytes), size limits, bytes in the blob
store and only the key in the row."""

from __future__ import annotations

import hashlib
import uuid

import filetype
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.enrollment import repository as enrollment_repository
from app.enrollment.service import RECORD_RESOURCE, load_application, require_status
from app.errors import AppError, Conflict, NotFound
from app.kit.blobstore import BlobStore, new_blob_key
from app.kit.downloads import safe_filename
from app.models import EnrollmentRecord

# What a scanned record or photographed report may be; decided from the bytes, never from the
# name or the client's Content-Type.
ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


class PayloadTooLarge(AppError):
    status = 413
    code = "record_too_large"


class UnsupportedRecordType(AppError):
    status = 415
    code = "record_type_refused"


def sniff_content_type(data: bytes) -> str:
    """The record's real type from its magic bytes; 415 unless JPEG, PNG or PDF."""
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED_TYPES:
        raise UnsupportedRecordType()
    return str(kind.mime)


async def attach_record(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    blobs: BlobStore,
    application_id: uuid.UUID,
    data: bytes,
    filename: str | None,
) -> EnrollmentRecord:
    """Store one file for a draft application (the patient's own); audited."""
    application = await load_application(session, principal, application_id, lock=True)
    if application.patient_id != principal.patient_id:
        raise NotFound()
    require_status(application, "attach records to")
    if len(data) > settings.enrollment_record_max_bytes:
        raise PayloadTooLarge(limit_mb=settings.enrollment_record_max_bytes // (1024 * 1024))
    if not data:
        raise Conflict("record_empty")
    limit = settings.enrollment_records_per_application
    if await enrollment_repository.record_count(session, application.id) >= limit:
        raise Conflict("application_records_full", limit=limit)
    content_type = sniff_content_type(data)
    key = new_blob_key(f"enrollment/{application.patient_id}")
    await blobs.put(key, data, content_type)
    record = EnrollmentRecord(
        application_id=application.id,
        blob_key=key,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        filename=safe_filename(filename, "record"),
    )
    session.add(record)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, RECORD_RESOURCE, record.id, application.patient_id
    )
    return record


async def read_record(
    session: AsyncSession,
    principal: Principal,
    blobs: BlobStore,
    application_id: uuid.UUID,
    record_id: uuid.UUID,
) -> tuple[EnrollmentRecord, bytes]:
    """A record's row and bytes, for the patient or a reviewer of the institution; audited."""
    application = await load_application(session, principal, application_id)
    record = await enrollment_repository.get_record(session, application.id, record_id)
    if record is None:
        raise NotFound()
    data = await blobs.get(record.blob_key)
    await audit_service.record(
        session, principal, AuditAction.read, RECORD_RESOURCE, record.id, application.patient_id
    )
    return record, data
