"""Nightscout API subset for uploaders (`/api/v1/entries`), and the patient's secret."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response, status

import app.nightscout.messages
import app.reading.messages  # noqa: F401 - the upload report's reasons
from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.models import Role
from app.nightscout import service as nightscout_service
from app.nightscout.schemas import NightscoutSecret, NightscoutStatus

router = APIRouter(prefix="/api/v1", tags=["nightscout"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
ApiSecret = Annotated[
    str | None,
    Header(alias="api-secret", description="SHA-1 hex of the patient's Nightscout secret"),
]
Token = Annotated[str | None, Query(description="The secret itself, instead of api-secret")]
Count = Annotated[int, Query(ge=1, le=1000)]


@router.post("/entries")
async def post_entries(
    session: DbSession,
    request: Request,
    response: Response,
    entries: Annotated[list[Any], Body(description="Nightscout entries (sgv, mbg)")],
    api_secret: ApiSecret = None,
    token: Token = None,
) -> list[dict[str, Any]]:
    """Upload entries the Nightscout way (xDrip+, Juggluco, AndroidAPS).

    Answers the stored entries (new or already there); the upload report's counts are in the
    `X-Readings-Accepted`, `X-Readings-Duplicate` and `X-Readings-Rejected` headers.
    """
    credential, principal = await nightscout_service.authenticate(session, api_secret, token)
    state = request.app.state
    report = await nightscout_service.upload(
        session, state.settings, state.hub, credential, principal, entries
    )
    response.headers["X-Readings-Accepted"] = str(report.accepted)
    response.headers["X-Readings-Duplicate"] = str(report.duplicate)
    response.headers["X-Readings-Rejected"] = str(report.rejected)
    return [entries[item.index] for item in report.items if item.status != "rejected"]


@router.get("/entries")
@router.get("/entries.json")
async def get_entries(
    session: DbSession,
    request: Request,
    api_secret: ApiSecret = None,
    token: Token = None,
    count: Count = 10,
) -> list[dict[str, Any]]:
    """The latest glucose entries, newest first (Nightscout format; `.json` is what
    followers ask for)."""
    _, principal = await nightscout_service.authenticate(session, api_secret, token)
    return await nightscout_service.recent(session, request.app.state.settings, principal, count)


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
