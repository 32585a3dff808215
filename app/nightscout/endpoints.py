"""The Nightscout API as uploaders and readers call it (entries in and out, status, auth,
treatments and device status accepted), and the patient's secret."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.kit.clock import utcnow
from app.models import Role
from app.nightscout import service as nightscout_service
from app.nightscout.query import MAX_COUNT, entry_query
from app.nightscout.schemas import NightscoutSecret, NightscoutStatus
from app.request_bodies import require_json

router = APIRouter(prefix="/api/v1", tags=["nightscout"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
ApiSecret = Annotated[
    str | None,
    Header(
        alias="api-secret",
        description="SHA-1 hex of the patient's Nightscout secret, or the secret",
    ),
]
Token = Annotated[str | None, Query(description="The secret itself, instead of api-secret")]
Secret = Annotated[str | None, Query(description="The secret or its SHA-1, as `?secret=`")]
_ENTRIES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": {"type": "object"}},
                        {"type": "object"},
                    ]
                }
            }
        },
        "description": "Nightscout entries (sgv, mbg): an array, or one entry with its `date`",
    }
}
_FIND_PARAMETERS = {
    "parameters": [
        {
            "name": "count",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT, "default": 10},
        },
        {
            "name": "find",
            "in": "query",
            "required": False,
            "style": "deepObject",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": True},
            "description": (
                "Nightscout conditions: find[date][$gte]=<epoch ms>, "
                "find[dateString][$lt]=<ISO 8601>, find[sgv][$lte]=180, find[type]=sgv "
                "($gt, $gte, $lt, $lte, or a bare value for equality); without a date "
                "condition the last four days"
            ),
        },
    ]
}
Entries = list[dict[str, Any]]


@router.post("/entries", openapi_extra=_ENTRIES_BODY)
@router.post("/entries.json", openapi_extra=_ENTRIES_BODY, include_in_schema=False)
async def post_entries(
    session: DbSession,
    request: Request,
    response: Response,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """Upload entries the Nightscout way: xDrip+ and Juggluco post an array to `/entries`,
    share2nightscout-bridge and nightscout-connect to `/entries.json`; one entry may come as an
    object with its `date`.

    Answers the stored entries (new or already there); the upload report's counts are in the
    `X-Readings-Accepted`, `X-Readings-Duplicate` and `X-Readings-Rejected` headers. The trend
    arrow (`direction`), `noise`, `filtered`/`unfiltered` and `device` are kept.
    """
    require_json(request)
    credential, principal = await nightscout_service.authenticate(
        session, api_secret, token, secret
    )
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "Invalid JSON", "input": None}]
        ) from None
    # Nightscout stores one entry posted as an object (when it has a `date`) or an array.
    if isinstance(body, dict) and "date" in body:
        entries = [body]
    elif isinstance(body, list):
        entries = body
    else:
        raise RequestValidationError(
            [{"type": "list_type", "loc": ("body",), "msg": "An entry or a list", "input": None}]
        )
    state = request.app.state
    report = await nightscout_service.upload(
        session, state.settings, credential, principal, entries
    )
    response.headers["X-Readings-Accepted"] = str(report.accepted)
    response.headers["X-Readings-Duplicate"] = str(report.duplicate)
    response.headers["X-Readings-Rejected"] = str(report.rejected)
    return [entries[item.index] for item in report.items if item.status != "rejected"]


async def _entries(
    session: AsyncSession,
    request: Request,
    model: str | None,
    api_secret: str | None,
    token: str | None,
    secret: str | None,
    count: int | None = None,
) -> Entries:
    _, principal = await nightscout_service.authenticate(session, api_secret, token, secret)
    query = entry_query(request.query_params, model, utcnow())
    if count is not None:
        query = dataclasses.replace(query, count=count)
    return await nightscout_service.find_entries(session, principal, query)


@router.get("/entries", openapi_extra=_FIND_PARAMETERS)
@router.get("/entries.json", openapi_extra=_FIND_PARAMETERS, include_in_schema=False)
async def get_entries(
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """Entries newest first (`.json` too), as Nightscout answers `find[...]` and `count`."""
    return await _entries(session, request, None, api_secret, token, secret)


@router.get("/entries/current", openapi_extra=_FIND_PARAMETERS)
@router.get("/entries/current.json", include_in_schema=False)
async def get_current_entry(
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """The latest entry, as a list of one (Nightscout's `current`)."""
    return await _entries(session, request, None, api_secret, token, secret, count=1)


@router.get("/entries/{model}", openapi_extra=_FIND_PARAMETERS)
async def get_entries_of_type(
    model: Annotated[str, Path(description="sgv or mbg, optionally with `.json`")],
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """Entries of one type (`/entries/sgv.json`, `/entries/mbg.json`), newest first."""
    return await _entries(session, request, model.removesuffix(".json"), api_secret, token, secret)


@router.get("/status")
@router.get("/status.json", include_in_schema=False)
async def server_status(
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> dict[str, Any]:
    """Server status and settings as Nightscout readers expect them (`units`, thresholds)."""
    await nightscout_service.authenticate(session, api_secret, token, secret)
    return nightscout_service.server_status(request.app.state.settings, authorized=True)


@router.get("/verifyauth")
async def verify_auth(
    session: DbSession,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> dict[str, Any]:
    """Whether the secret offered is valid, as Nightscout answers it (always 200)."""
    offered = nightscout_service.offered_secret(api_secret, token, secret)
    found = await nightscout_service.find_credential(session, offered)
    return nightscout_service.verify_auth(found is not None)


async def _accept_ignored(
    session: AsyncSession,
    request: Request,
    api_secret: str | None,
    token: str | None,
    secret: str | None,
) -> Entries:
    require_json(request)
    await nightscout_service.authenticate(session, api_secret, token, secret)
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    documents = body if isinstance(body, list) else [body] if isinstance(body, dict) else []
    return [document for document in documents if isinstance(document, dict)]


@router.post("/treatments", operation_id="post_treatments")
@router.post("/treatments.json", include_in_schema=False)
@router.post("/devicestatus", operation_id="post_devicestatus")
@router.post("/devicestatus.json", include_in_schema=False)
async def post_ignored(
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """Treatments and device status uploaders send alongside entries: accepted and not kept
    (the platform records care itself; insulin and pump data are not part of the pilot)."""
    return await _accept_ignored(session, request, api_secret, token, secret)


@router.get("/treatments", operation_id="get_treatments")
@router.get("/treatments.json", include_in_schema=False)
@router.get("/devicestatus", operation_id="get_devicestatus")
@router.get("/devicestatus.json", include_in_schema=False)
@router.get("/profile", operation_id="get_profile")
@router.get("/profile.json", include_in_schema=False)
async def get_not_kept(
    session: DbSession,
    api_secret: ApiSecret = None,
    token: Token = None,
    secret: Secret = None,
) -> Entries:
    """Treatments, device status and profiles: none are kept, so the list is empty."""
    await nightscout_service.authenticate(session, api_secret, token, secret)
    return []


@router.get("/nightscout/credential", response_model=NightscoutStatus)
async def credential_status(principal: PatientOnly, session: DbSession) -> NightscoutStatus:
    """Whether I have a Nightscout secret."""
    return await nightscout_service.status(session, principal)


@router.post(
    "/nightscout/credential", response_model=NightscoutSecret, status_code=status.HTTP_201_CREATED
)
async def rotate_credential(
    principal: PatientOnly, session: DbSession, request: Request
) -> NightscoutSecret:
    """Create or replace my Nightscout secret (shown once; the old one stops working)."""
    return await nightscout_service.rotate(session, request.app.state.settings, principal)


@router.delete("/nightscout/credential", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_credential(principal: PatientOnly, session: DbSession) -> None:
    """Delete my Nightscout secret."""
    await nightscout_service.revoke(session, principal)
