"""Doctors' signing keys: the doctor's app registers (and may revoke) its own keys; admins
activate a registered key after checking its fingerprint, and revoke keys. No route lets anyone
register a key for someone else, and none ever sees or takes a private key."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.kit.pagination import PageQuery
from app.models import Role
from app.prescription import keys as keys_service
from app.prescription.schemas import (
    Reason,
    SigningKeyActivate,
    SigningKeyCreate,
    SigningKeyOut,
    SigningKeyPage,
    SigningKeyStatus,
)
from app.prescription.views import present_key

# Included beside the prescriptions router, not inside it: a nested router's routes keep
# their own path, so the access log and metrics would name them without /api/v1.
router = APIRouter(prefix="/api/v1", tags=["prescriptions", "signing keys"])

Doctor = Annotated[Principal, require_roles(Role.doctor)]
Admin = Annotated[Principal, require_roles(Role.admin)]


@router.post(
    "/doctors/me/signing-keys", response_model=SigningKeyOut, status_code=status.HTTP_201_CREATED
)
async def register_signing_key(
    body: SigningKeyCreate, principal: Doctor, session: DbSession
) -> SigningKeyOut:
    """Register the public half of a key my device generated, with its proof of possession;
    it signs once an admin has activated it (my previous key is then retired)."""
    return present_key(await keys_service.register(session, principal, body))


@router.get("/doctors/me/signing-keys", response_model=SigningKeyPage)
async def list_my_signing_keys(
    principal: Doctor, session: DbSession, page: PageQuery
) -> SigningKeyPage:
    """My signing keys, newest first, with who registered, activated or revoked them."""
    rows = await keys_service.list_own(session, principal)
    found = page.page_in_order([present_key(row) for row in rows], lambda k: k.id)
    return SigningKeyPage(items=found.items, next=found.next)


@router.post("/doctors/me/signing-keys/{key_id}/revoke", response_model=SigningKeyOut)
async def revoke_my_signing_key(
    key_id: uuid.UUID, body: Reason, principal: Doctor, session: DbSession
) -> SigningKeyOut:
    """Revoke one of my keys (e.g. my phone is lost): it signs nothing more; what it signed
    while active stays valid."""
    return present_key(await keys_service.revoke(session, principal, key_id, body.reason))


@router.get("/signing-keys", response_model=SigningKeyPage)
async def list_signing_keys(
    _: Admin,
    session: DbSession,
    page: PageQuery,
    status_filter: Annotated[SigningKeyStatus | None, Query(alias="status")] = None,
    doctor_id: uuid.UUID | None = None,
) -> SigningKeyPage:
    """Doctors' signing keys (admin), newest first, e.g. ?status=pending for those waiting for
    activation."""
    resume = page.after(datetime, uuid.UUID)
    rows = await keys_service.list_keys(
        session,
        doctor_id,
        status_filter,
        page.limit,
        (resume[0], resume[1]) if resume else None,
    )
    found = page.page(rows, lambda k: (k.created_at, k.id))
    return SigningKeyPage(items=[present_key(row) for row in found.items], next=found.next)


@router.post("/signing-keys/{key_id}/activate", response_model=SigningKeyOut)
async def activate_signing_key(
    key_id: uuid.UUID, body: SigningKeyActivate, principal: Admin, session: DbSession
) -> SigningKeyOut:
    """Activate a key a doctor registered (admin), giving the fingerprint the doctor's app
    shows; the doctor's previous active key is retired."""
    return present_key(await keys_service.activate(session, principal, key_id, body.fingerprint))


@router.post("/signing-keys/{key_id}/revoke", response_model=SigningKeyOut)
async def revoke_signing_key(
    key_id: uuid.UUID, body: Reason, principal: Admin, session: DbSession
) -> SigningKeyOut:
    """Revoke any doctor's key (admin): it signs nothing more; what it signed while active
    stays valid."""
    return present_key(await keys_service.revoke(session, principal, key_id, body.reason))
