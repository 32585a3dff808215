"""Chat attachments: images, voice clips, files and videos - one pipeline for all four.

The declared Content-Type is not trusted: the first bytes decide. Images are JPEG, PNG or
WebP; voice is AMR-NB (what WeChat records) or WAV, the formats whose duration can be read
exactly from the file, so the 60-second limit does not rest on the client's word. Files are
PDF, Word, Excel, PowerPoint (OOXML, legacy OLE and OpenDocument) or UTF-8 plain text; videos
are MP4 or QuickTime, their duration read from the container's headers (mutagen). Each kind has
its size limit (and voice and video a duration limit) from the settings.
"""

from __future__ import annotations

import io
import struct
import uuid
from datetime import timedelta
from typing import Literal

import filetype
from mutagen import MutagenError
from mutagen.mp4 import MP4
from mutagen.mp4._atom import AtomError, Atoms  # its box reader (not re-exported)
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.chat import repository as chat_repository
from app.chat.errors import TooLarge, UnsupportedType
from app.chat.repository import Membership
from app.config import Settings
from app.errors import Conflict, NotFound
from app.kit.blobstore import BlobNotFound, BlobStore, new_blob_key
from app.kit.clock import utcnow
from app.kit.downloads import safe_filename
from app.models import ChatAttachment

AttachmentKind = Literal["image", "voice", "file", "video"]
RESOURCE = "chat_attachment"

# AMR-NB speech frame sizes by frame type (RFC 4867 section 5.3), header byte excluded.
_AMR_FRAME_BYTES = {0: 12, 1: 13, 2: 15, 3: 17, 4: 19, 5: 20, 6: 26, 7: 31, 8: 5, 15: 0}
_AMR_FRAME_MS = 20
# Documents a patient or doctor shares, by the type their bytes show (filetype's matchers).
FILE_TYPES = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
TEXT_TYPE = "text/plain; charset=utf-8"
# Whitespace a text file may hold; any other control character means it is not plain text.
_TEXT_CONTROLS = frozenset("\t\n\r\f")


def size_limit(settings: Settings, kind: AttachmentKind) -> int:
    """The most bytes an upload of `kind` may have."""
    return settings.chat_attachment_max_bytes[kind]


def within_limit(data: bytes, limit: int) -> None:
    """413 if an upload has more than `limit` bytes."""
    if len(data) > limit:
        raise TooLarge("chat_attachment_too_large", limit_mb=round(limit / 1024 / 1024, 1))


def sniff(kind: AttachmentKind, data: bytes) -> tuple[str, int | None]:
    """The content type read from the bytes and, for voice and video, the duration in ms;
    415 if not one of the accepted formats of `kind`."""
    if kind == "image":
        if data.startswith(b"\xff\xd8\xff"):
            return "image/jpeg", None
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png", None
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return "image/webp", None
        raise UnsupportedType()
    if kind == "file":
        return _file_type(data), None
    if kind == "video":
        return _video(data)
    if data.startswith(b"#!AMR\n"):
        return "audio/amr", _amr_duration_ms(data[6:])
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav", _wav_duration_ms(data)
    raise UnsupportedType()


def _file_type(data: bytes) -> str:
    guessed = filetype.guess(data)
    if guessed is not None:
        if guessed.mime in FILE_TYPES:
            return str(guessed.mime)
        raise UnsupportedType()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedType() from None
    if not text.strip() or any(c < " " and c not in _TEXT_CONTROLS for c in text):
        raise UnsupportedType()
    return TEXT_TYPE


def _video(data: bytes) -> tuple[str, int]:
    guessed = filetype.guess(data)
    if guessed is None or guessed.mime not in VIDEO_TYPES:
        raise UnsupportedType()
    fileobj = io.BytesIO(data)
    try:
        # mutagen reads the sound track's length (or the movie's); the movie header's
        # duration covers every track, so a short sound track cannot hide a long picture.
        sound = float(getattr(MP4(fileobj).info, "length", 0) or 0)
        found, header = Atoms(fileobj)[b"moov", b"mvhd"].read(fileobj)
    except (MutagenError, AtomError, KeyError):
        raise UnsupportedType() from None
    seconds = max(sound, _movie_seconds(header) if found else 0.0)
    if seconds <= 0:
        raise UnsupportedType()  # no duration anywhere: not a playable video
    return str(guessed.mime), round(seconds * 1000)


def _movie_seconds(mvhd: bytes) -> float:
    """The duration in a movie header (ISO/IEC 14496-12 8.2.2): version 0 or 1 layouts."""
    if mvhd[:1] == b"\x00" and len(mvhd) >= 20:
        timescale, duration = struct.unpack_from(">II", mvhd, 12)
    elif mvhd[:1] == b"\x01" and len(mvhd) >= 32:
        timescale, duration = struct.unpack_from(">IQ", mvhd, 20)
    else:
        raise UnsupportedType()
    if not timescale:
        raise UnsupportedType()
    return float(duration) / float(timescale)


def _amr_duration_ms(frames: bytes) -> int:
    offset, count = 0, 0
    while offset < len(frames):
        frame_type = (frames[offset] >> 3) & 0x0F
        size = _AMR_FRAME_BYTES.get(frame_type)
        if size is None or offset + 1 + size > len(frames):
            raise UnsupportedType()
        offset += 1 + size
        count += 1
    if count == 0:
        raise UnsupportedType()
    return count * _AMR_FRAME_MS


def _wav_duration_ms(data: bytes) -> int:
    offset, byte_rate, data_bytes = 12, 0, None
    while offset + 8 <= len(data):
        chunk_id, chunk_size = (
            data[offset : offset + 4],
            struct.unpack_from("<I", data, offset + 4)[0],
        )
        if chunk_id == b"fmt " and chunk_size >= 12:
            byte_rate = int(struct.unpack_from("<I", data, offset + 16)[0])
        elif chunk_id == b"data":
            data_bytes = min(chunk_size, len(data) - offset - 8)
            break
        offset += 8 + chunk_size + (chunk_size & 1)
    if not byte_rate or data_bytes is None:
        raise UnsupportedType()
    return int(data_bytes * 1000 // byte_rate)


async def admit_upload(
    session: AsyncSession, settings: Settings, principal: Principal, member: Membership
) -> None:
    """Refuse, before the body is read, an upload to a closed conversation or by someone whose
    quota of unsent attachments is already used up (409 each)."""
    if member.conversation.closed_at is not None:
        raise Conflict("chat_conversation_closed")
    await _check_quota(session, settings, principal.account_id, 0)


async def _check_quota(
    session: AsyncSession, settings: Settings, account_id: uuid.UUID, size: int
) -> None:
    """409 unless one more unsent attachment of `size` bytes fits the uploader's quota."""
    cutoff = utcnow() - timedelta(seconds=settings.chat_attachment_unsent_ttl_seconds)
    count, used = await chat_repository.unsent_usage(session, account_id, cutoff)
    max_count = settings.chat_attachment_unsent_max_count
    max_bytes = settings.chat_attachment_unsent_max_bytes
    if count + 1 > max_count or used + max(size, 1) > max_bytes:
        raise Conflict(
            "chat_attachment_quota_exceeded",
            max_count=max_count,
            max_mb=round(max_bytes / 1024 / 1024, 1),
            hours=round(settings.chat_attachment_unsent_ttl_seconds / 3600, 1),
            extra={"unsent_count": count, "unsent_bytes": used},
        )


async def store_upload(
    session: AsyncSession,
    blobs: BlobStore,
    settings: Settings,
    principal: Principal,
    member: Membership,
    kind: AttachmentKind,
    data: bytes,
    file_name: str | None = None,
) -> ChatAttachment:
    """Check an admitted upload's bytes, keep them in the blob store and record them; a file
    keeps its (sanitised) name, by default one made from its type."""
    content_type, duration_ms = sniff(kind, data)
    if kind == "voice":
        _check_duration(duration_ms, settings.chat_voice_max_seconds, "chat_voice_too_long")
    elif kind == "video":
        _check_duration(duration_ms, settings.chat_video_max_seconds, "chat_video_too_long")
    # Under the uploader's row lock until commit: concurrent uploads are counted one by one.
    await chat_repository.lock_uploader(session, principal.account_id)
    await _check_quota(session, settings, principal.account_id, len(data))
    conversation_id = member.conversation.id
    key = new_blob_key(f"chat/{conversation_id}")
    await blobs.put(key, data, content_type)
    attachment = await chat_repository.add_attachment(
        session,
        {
            "conversation_id": conversation_id,
            "uploader_account_id": principal.account_id,
            "kind": kind,
            "content_type": content_type,
            "size_bytes": len(data),
            "duration_ms": duration_ms,
            "file_name": _file_name(kind, content_type, file_name),
            "blob_key": key,
        },
    )
    await audit_service.record(
        session,
        principal,
        AuditAction.create,
        RESOURCE,
        attachment.id,
        member.conversation.patient_id,
    )
    return attachment


def _check_duration(duration_ms: int | None, max_seconds: float, code: str) -> None:
    if duration_ms is not None and duration_ms > max_seconds * 1000:
        raise TooLarge(code, limit=round(max_seconds))


def _file_name(kind: AttachmentKind, content_type: str, given: str | None) -> str | None:
    """A file's name to keep: the uploader's, sanitised, or "file.<extension of its type>"."""
    if kind != "file":
        return None
    known = filetype.get_type(mime=content_type)
    extension = "txt" if known is None else known.extension
    return safe_filename(given, f"file.{extension}")


async def fetch(
    session: AsyncSession, blobs: BlobStore, principal: Principal, attachment_id: uuid.UUID
) -> tuple[ChatAttachment, bytes]:
    """An attachment's bytes for a participant (audited); 404 otherwise or once recalled."""
    found = await chat_repository.get_attachment(session, attachment_id, principal.account_id)
    if found is None:
        raise NotFound()
    attachment, conversation = found
    try:
        data = await blobs.get(attachment.blob_key)
    except BlobNotFound:
        raise NotFound() from None
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, attachment.id, conversation.patient_id
    )
    return attachment, data
