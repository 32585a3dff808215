"""Staff administration endpoints (platform admins): create, list, suspend, reinstate, move,
an account's audited history, and the spreadsheet import."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.kit.pagination import Page, PageQuery
from app.models import Role
from app.request_bodies import ONE_FILE_BODY, uploaded_file
from app.staff import importing
from app.staff import service as staff_service
from app.staff.repository import Placement
from app.staff.schemas import (
    PasswordReset,
    StaffCreate,
    StaffCreated,
    StaffEventOut,
    StaffImportReport,
    StaffMove,
    StaffOut,
    StaffReinstate,
    StaffSuspend,
)
from app.staff.spreadsheet import MAX_BYTES

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])

Admin = Annotated[Principal, require_roles(Role.admin)]


async def _out(session: DbSession, placed: Placement) -> StaffOut:
    account = placed.account
    assert account.username is not None
    return StaffOut(
        account_id=account.id,
        role=account.role,
        username=account.username,
        display_name=account.display_name,
        is_active=account.is_active,
        is_prescription_reviewer=placed.reviewer is not None,
        doctor_id=placed.doctor.id if placed.doctor else None,
        workplace=await staff_service.workplace(session, placed),
        created_at=account.created_at,
    )


@router.post("", response_model=StaffCreated, status_code=status.HTTP_201_CREATED)
async def create_staff(body: StaffCreate, principal: Admin, session: DbSession) -> StaffCreated:
    """Create a doctor or prescription reviewer (at an institution), or a store pharmacist or
    courier (at a store); 409 staff_username_taken if the username is in use."""
    placed, password = await staff_service.create(session, principal, body)
    out = await _out(session, placed)
    return StaffCreated(**out.model_dump(), initial_password=password)


@router.get("", response_model=Page[StaffOut])
async def list_staff(_: Admin, session: DbSession, page: PageQuery) -> Page[StaffOut]:
    """Staff accounts by username, with where each works and whether it is suspended."""
    resume = page.after(str)
    rows = await staff_service.list_staff(session, resume[0] if resume else None, page.limit)
    return page.page([await _out(session, p) for p in rows], lambda s: (s.username,))


@router.get("/{account_id}", response_model=StaffOut)
async def get_staff(account_id: uuid.UUID, _: Admin, session: DbSession) -> StaffOut:
    """One staff account."""
    return await _out(session, await staff_service.get(session, account_id))


@router.get("/{account_id}/history", response_model=Page[StaffEventOut])
async def staff_history(
    account_id: uuid.UUID, _: Admin, session: DbSession, page: PageQuery
) -> Page[StaffEventOut]:
    """The audited acts on a staff account (created, suspended, reinstated, moved), oldest
    first, each with what it changed."""
    resume = page.after(int)
    events = await staff_service.history(
        session, account_id, resume[0] if resume else None, page.limit
    )
    found = page.page(events, lambda e: (e.id,))
    items = [
        StaffEventOut(
            occurred_at=e.occurred_at, action=e.action, actor_name=e.actor_name,
            actor_role=e.actor_role, detail=e.detail,
        )
        for e in found.items
    ]  # fmt: skip
    return Page[StaffEventOut](items=items, next=found.next)


@router.post("/{account_id}/suspend", response_model=StaffOut)
async def suspend_staff(
    account_id: uuid.UUID, body: StaffSuspend, principal: Admin, session: DbSession
) -> StaffOut:
    """Suspend an account: it cannot sign in and its tokens stop working at once."""
    return await _out(
        session, await staff_service.suspend(session, principal, account_id, body.reason)
    )


@router.post("/{account_id}/reinstate", response_model=StaffOut)
async def reinstate_staff(
    account_id: uuid.UUID, body: StaffReinstate, principal: Admin, session: DbSession
) -> StaffOut:
    """Let a suspended account sign in again."""
    return await _out(
        session, await staff_service.reinstate(session, principal, account_id, body.reason)
    )


@router.post("/{account_id}/password-reset", response_model=PasswordReset)
async def reset_staff_password(
    account_id: uuid.UUID, principal: Admin, session: DbSession
) -> PasswordReset:
    """Give a staff account a new random password, shown once, and end its sign-ins (a
    forgotten password, or a create whose answer was lost)."""
    placed, password = await staff_service.reset_password(session, principal, account_id)
    return PasswordReset(account_id=placed.account.id, initial_password=password)


@router.post("/{account_id}/move", response_model=StaffOut)
async def move_staff(
    account_id: uuid.UUID, body: StaffMove, principal: Admin, session: DbSession
) -> StaffOut:
    """Move a staff member to another institution or store (the same kind of post), with
    the reason; audited with from and to."""
    return await _out(session, await staff_service.move(session, principal, account_id, body))


@router.post(
    "/imports",
    response_model=StaffImportReport,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=ONE_FILE_BODY,
)
async def import_staff(
    request: Request,
    response: Response,
    principal: Admin,
    session: DbSession,
    dry_run: Annotated[bool, Query()] = False,
) -> StaffImportReport:
    """Create every person listed in a spreadsheet (field `file`: XLSX, or CSV in UTF-8 or
    GBK), or with ?dry_run=true only check them. Any wrong row refuses the whole file: 422
    staff_import_rejected with `problems` (row, field, code, message) and nobody created."""
    upload = await uploaded_file(request, MAX_BYTES)
    report = await importing.import_staff(session, principal, upload.data, dry_run=dry_run)
    if dry_run:
        response.status_code = status.HTTP_200_OK
    return report
