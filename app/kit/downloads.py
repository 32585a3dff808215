"""How files people uploaded are served back: for download only, never rendered by a browser
as a page of the API's own origin (an uploaded PDF or SVG could otherwise run script there)."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from fastapi import Response

# No script, no plugins, no framing, and a sandbox (unique origin) should it be opened anyway.
UPLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def safe_filename(name: str | None, default: str, max_chars: int = 128) -> str:
    """An uploader's file name fit to keep and serve back: its last path part, without control
    characters or surrounding spaces, at most `max_chars` characters; `default` if none is left."""
    printable = "".join(c for c in name or "" if unicodedata.category(c)[0] != "C")
    base = printable.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base[:max_chars] or default


def content_disposition(filename: str | None, fallback: str | None = None) -> str:
    """`attachment`, with the file's name when it has one (RFC 6266; RFC 5987 for any name
    that is not plain ASCII, so quotes and line breaks in a name cannot break the header).
    A plain `fallback` name goes beside an encoded one for clients that cannot read RFC 5987
    (RFC 6266 section 4.3); one that is not plain is left out rather than escaped."""
    if not filename:
        return "attachment"
    encoded = quote(filename, safe="")
    if encoded == filename:
        return f'attachment; filename="{filename}"'
    plain = f'filename="{fallback}"; ' if fallback and quote(fallback, safe="") == fallback else ""
    return f"attachment; {plain}filename*=UTF-8''{encoded}"


def user_upload_response(data: bytes, media_type: str, filename: str | None = None) -> Response:
    """A user's uploaded file as a download: attachment, nosniff, private and uncached."""
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": UPLOAD_POLICY,
            "Cache-Control": "private, no-store",
        },
    )
