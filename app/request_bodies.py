"""What the service accepts as a request body: size limits (413) and JSON media types (415).

Every request body is held to `REQUEST_BODY_MAX_BYTES` (1 MiB: the largest legal JSON body, a
full reading batch, is well under it), except on the routes that take files, which get their
own upload limit plus a little room for multipart framing, so each route's own, more precise
check (and its own error code) still answers first. A declared Content-Length over the limit is
refused up front; a chunked body is counted as it streams and refused the moment it passes the
limit, so a huge body is never buffered.

Starlette's RequestBodyLimitMiddleware (FastAPI's `max_body_size`) takes limits fixed where the
routes are declared and answers some refusals in text/plain; these limits come from Settings and
every refusal is problem+json, hence this small middleware.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import AppError, UnsupportedMediaType, is_json_media_type, problem_response
from app.i18n import translate


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON, for endpoints that read their JSON body themselves
    (FastAPI's own JSON bodies get the same answer from the validation error handler)."""
    if not is_json_media_type(request.headers.get("content-type")):
        raise UnsupportedMediaType()


# Multipart boundaries and part headers around an uploaded file.
UPLOAD_FRAMING_BYTES = 64 * 1024

# The multipart form of one uploaded file, field `file` (wx.uploadFile's `name: 'file'`).
FILE_FORM: dict[str, Any] = {
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        }
    }
}

# The OpenAPI request body of a route that reads one uploaded file, `file`, itself (FastAPI
# cannot see it): `@router.post(..., openapi_extra=ONE_FILE_BODY)`.
ONE_FILE_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": FILE_FORM}}


class UploadFileMissing(AppError):
    """A multipart upload without its `file` part."""

    status = 422
    code = "upload_file_missing"


@dataclass(frozen=True)
class UploadedFile:
    """The bytes of one uploaded file, the media type it was sent as and its name (None if
    unsaid)."""

    data: bytes
    content_type: str | None
    filename: str | None


def _media_type(upload: UploadFile) -> str | None:
    # wx.uploadFile labels a part by the file's extension, or application/octet-stream.
    declared = upload.content_type
    if declared and declared.split(";")[0].strip().lower() != "application/octet-stream":
        return declared
    guessed, _ = mimetypes.guess_type(upload.filename or "")
    return guessed or declared


async def uploaded_file(request: Request, limit: int) -> UploadedFile:
    """The one file a request uploads, read up to `limit` + 1 bytes (the route refuses more).

    The mini-program can only upload through wx.uploadFile, which sends multipart/form-data:
    the file is its `file` part (media type from the part, or else from the file's name).
    Other clients send the file as the raw body, its media type in Content-Type."""
    content_type = request.headers.get("content-type")
    if (content_type or "").split(";")[0].strip().lower() == "multipart/form-data":
        # Closing the form closes its spooled temporary file.
        async with request.form(max_files=1) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise UploadFileMissing()
            return UploadedFile(await upload.read(limit + 1), _media_type(upload), upload.filename)
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > limit:
            break
    return UploadedFile(bytes(data), content_type, None)


def upload_limits(settings: Settings) -> dict[str, int]:
    """Path template -> body limit of the routes that take files (each checks its own, too)."""
    return {
        "/api/v1/enrollment/applications/{application_id}/records": (
            settings.enrollment_record_max_bytes + UPLOAD_FRAMING_BYTES
        ),
        "/api/v1/patients/{patient_id}/readings/import": (
            settings.reading_import_max_bytes + UPLOAD_FRAMING_BYTES
        ),
        "/api/v1/ecg-strips": settings.ecg_upload_max_bytes + UPLOAD_FRAMING_BYTES,
        "/api/v1/chat/conversations/{conversation_id}/attachments": (
            max(settings.chat_attachment_max_bytes.values()) + UPLOAD_FRAMING_BYTES
        ),
    }


class BodySizeLimitMiddleware:
    """Refuse request bodies over the route's limit with 413 `payload_too_large`."""

    def __init__(self, app: ASGIApp, default_limit: int, route_limits: dict[str, int]) -> None:
        self.app = app
        self.default_limit = default_limit
        self.route_limits: list[tuple[re.Pattern[str], int]] = [
            (compile_path(template)[0], limit) for template, limit in route_limits.items()
        ]

    def limit_for(self, path: str) -> int:
        """The most body bytes a request to `path` may send."""
        for pattern, limit in self.route_limits:
            if pattern.match(path):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            # Refused before any of the body is read.
            response = problem_response(413, "payload_too_large", translate("payload_too_large"))
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the app's body read: the error handlers answer 413.
                    raise HTTPException(413)
            return message

        await self.app(scope, counted_receive, send)
