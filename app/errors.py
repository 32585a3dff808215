"""AppError classes (HTTP status + stable code) and the problem+json (RFC 9457) handlers."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.i18n import translate
from app.request_context import request_id_var

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """A failure the client can act on: an HTTP status, a stable code and a translated detail."""

    status: int = 400
    code: str = "bad_request"
    # Every code an instance can carry when the code is chosen at run time (the OpenAPI walk,
    # app/openapi_raises.py, lists them for the operations that raise it).
    codes: ClassVar[tuple[str, ...]] = ()
    # When true the request's transaction is committed before the error is answered: for
    # refusals that must leave a trace (e.g. revoking a session whose refresh token was reused).
    keep_changes: bool = False

    def __init__(
        self,
        code: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
        keep_changes: bool = False,
        **params: object,
    ) -> None:
        if code is not None:
            self.code = code
        self.keep_changes = keep_changes
        self.params = params
        self.extra = extra or {}
        super().__init__(self.code)


class NotFound(AppError):
    status = 404
    code = "not_found"


class Unauthorized(AppError):
    status = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status = 403
    code = "forbidden_role"


class Conflict(AppError):
    status = 409
    code = "conflict"


class UnsupportedMediaType(AppError):
    """A body that is not JSON sent to an endpoint that takes JSON."""

    status = 415
    code = "unsupported_media_type"


class BadGateway(AppError):
    status = 502
    code = "bad_gateway"


class TooManyRequests(AppError):
    """429: the caller must wait; every one carries `Retry-After` (seconds) and the same number
    as `retry_after_seconds` in the body (and as `{retry_after}` for the message text)."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self,
        code: str | None = None,
        *,
        retry_after: int,
        extra: dict[str, Any] | None = None,
        **params: object,
    ) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(code, extra={"retry_after_seconds": self.retry_after, **(extra or {})})
        self.params = {**params, "retry_after": self.retry_after}


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached right now; the client retries (with its idempotency key).

    Raised by `app.db.unit_of_work` in place of the driver's connection errors, so an outage
    answers 503 problem+json instead of a 500 with a trace."""

    code = "database_unreachable"


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled database connection stayed in use for DB_POOL_TIMEOUT_SECONDS: the database
    is up, the process is over-full; the client retries in a second (Retry-After)."""

    code = "database_busy"

    def __init__(self) -> None:
        super().__init__(extra={"retry_after_seconds": 1})


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    retry_after: int | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem document; `code` is stable, `detail` is for people. A 429 needs
    `retry_after` (seconds), sent as the `Retry-After` header."""
    if status == 429 and retry_after is None:
        raise ValueError("a 429 answer needs retry_after (Retry-After)")
    body: dict[str, Any] = {
        "type": f"https://errors.chronic-care.cn/{code}",
        "title": code,
        "status": status,
        "code": code,
        "detail": detail,
        "request_id": request_id_var.get(),
    }
    body.update(extra)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    given = extra.get("retry_after_seconds")
    if retry_after is None and status == 503 and isinstance(given, int):
        retry_after = given
    if retry_after is not None:
        # RFC 9110: when to try again, for clients that read headers rather than bodies.
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    retry_after = exc.retry_after if isinstance(exc, TooManyRequests) else None
    detail = translate(exc.code, **exc.params)
    return problem_response(exc.status, exc.code, detail, retry_after=retry_after, **exc.extra)


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type declares JSON (application/json or application/*+json), the
    rule FastAPI parses bodies by."""
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if isinstance(exc.body, bytes) and not is_json_media_type(request.headers.get("content-type")):
        # FastAPI hands a JSON endpoint the raw bytes of a body not declared JSON.
        return problem_response(415, "unsupported_media_type", translate("unsupported_media_type"))
    errors = [
        {"loc": list(err.get("loc", ())), "type": err.get("type"), "msg": err.get("msg")}
        for err in exc.errors()
    ]
    return problem_response(422, "validation_failed", translate("validation_failed"), errors=errors)


_HTTP_CODES = {
    # FastAPI's and Starlette's "cannot parse the body" (e.g. JSON nested too deeply to decode).
    400: "malformed_body",
    404: "route_not_found",
    405: "method_not_allowed",
    429: "too_many_requests",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    retry_after = None
    if exc.status_code == 429:
        # Every 429 tells the client when to come back; a bare one asks for a second.
        given = (exc.headers or {}).get("Retry-After", "")
        retry_after = int(given) if given.isdigit() else 1
        return problem_response(
            429, code, translate(code, retry_after=retry_after), retry_after=retry_after
        )
    detail = translate(code) if code in _HTTP_CODES.values() else str(exc.detail)
    return problem_response(exc.status_code, code, detail)


async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(500, "internal_error", translate("internal_error"))


# SQLSTATEs by which PostgreSQL refuses a value the client sent, not a statement that is wrong:
# too long, numeric out of range, bad or overflowing date/time, NUL (U+0000) or untranslatable
# characters. They are the client's to fix (422); anything else stays a 500.
_REFUSED_VALUE_SQLSTATES = frozenset({"22001", "22003", "22007", "22008", "22021", "22P05"})


# SQLSTATEs by which PostgreSQL refuses a write because a concurrent transaction got there
# first: unique or exclusion violation, serialization failure, deadlock. The request changed
# nothing (its transaction is rolled back): a 409 the client can act on, never a 500. Services
# lock first or catch these where they know a better answer (a replay, a specific code); this
# is the net under every other write.
_CONCURRENT_WRITE_SQLSTATES = frozenset({"23505", "23P01", "40001", "40P01"})
# SQLite's extended result codes for the same (writers are serialised, but a duplicate
# insert between a check and a write still lands here).
_CONCURRENT_WRITE_SQLITE = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


def lost_a_race(exc: DBAPIError) -> bool:
    """Whether the database refused a write because another transaction made it first."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return (
        sqlstate in _CONCURRENT_WRITE_SQLSTATES
        or getattr(exc.orig, "sqlite_errorname", None) in _CONCURRENT_WRITE_SQLITE
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if lost_a_race(exc):
        log.warning("concurrent write refused: %s: %.300s", type(exc.orig).__name__, exc.orig)
        return problem_response(409, "concurrent_update", translate("concurrent_update"))
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate not in _REFUSED_VALUE_SQLSTATES:
        return await _unhandled(request, exc)
    log.info("database refused a value: SQLSTATE %s", sqlstate)
    return problem_response(422, "value_not_storable", translate("value_not_storable"))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error as problem+json; no stack trace ever reaches a client."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unhandled)
