"""The staff and places commands of `python -m app.cli`: the same rules and audit trail as
the admin API, acted by the operator at the command line (audited as `命令行 <os user>`).

Each returns the text to print; a refusal raises the AppError the API would answer.
"""

from __future__ import annotations

import getpass

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import SystemActor
from app.errors import AppError
from app.i18n import translate
from app.reference import service as reference_service
from app.reference.schemas import InstitutionCreate, PharmacyStoreCreate
from app.staff import importing
from app.staff import service as staff_service
from app.staff.schemas import StaffCreate, StaffMove


def operator() -> SystemActor:
    """The operator at this terminal, named by their OS user in the audit trail."""
    return SystemActor("admin", f"命令行 {getpass.getuser()}"[:64])


def describe_error(error: AppError) -> str:
    """A refusal as the operator reads it: the message, then each reported problem."""
    lines = [f"{error.code}: {translate(error.code, **error.params)}"]
    lines += [
        f"  第 {p['row']} 行 row {p['row']}, {p['field'] or '-'}: {p['message']}"
        for p in error.extra.get("problems", [])
    ]
    return "\n".join(lines)


async def create_staff(session: AsyncSession, data: StaffCreate) -> str:
    """Create one staff member; prints the generated initial password once."""
    placed, password = await staff_service.create(session, operator(), data)
    place = await staff_service.workplace(session, placed)
    where = f"{place.code} {place.name_zh}" if place else "-"
    line = f"created {placed.account.role} {placed.account.username} at {where}"
    return f"{line}\ninitial password (shown once): {password}" if password else line


async def suspend_staff(session: AsyncSession, username: str, reason: str) -> str:
    """Suspend a staff account by username."""
    placed = await staff_service.by_username(session, username)
    await staff_service.suspend(session, operator(), placed.account.id, reason)
    return f"suspended {placed.account.username}; its sign-ins have ended"


async def reinstate_staff(session: AsyncSession, username: str, reason: str) -> str:
    """Reinstate a suspended staff account by username."""
    placed = await staff_service.by_username(session, username)
    await staff_service.reinstate(session, operator(), placed.account.id, reason)
    return f"reinstated {placed.account.username}"


async def reset_password(session: AsyncSession, username: str) -> str:
    """Give a staff account a new random password, printed once."""
    placed = await staff_service.by_username(session, username)
    _, password = await staff_service.reset_password(session, operator(), placed.account.id)
    return f"new password for {placed.account.username} (shown once): {password}"


async def move_staff(session: AsyncSession, username: str, body: StaffMove) -> str:
    """Move a staff member to another institution or store."""
    placed = await staff_service.by_username(session, username)
    moved = await staff_service.move(session, operator(), placed.account.id, body)
    place = await staff_service.workplace(session, moved)
    assert place is not None
    return f"moved {placed.account.username} to {place.code} {place.name_zh}"


async def import_staff(session: AsyncSession, content: bytes, dry_run: bool) -> str:
    """Import a staff spreadsheet (XLSX or CSV bytes); prints each row's initial password
    once."""
    report = await importing.import_staff(session, operator(), content, dry_run=dry_run)
    if dry_run:
        return f"dry run: {len(report.rows)} row(s) valid, nothing created"
    lines = [f"row {r.row}: {r.username}  initial password: {r.initial_password}"
             for r in report.rows]  # fmt: skip
    return "\n".join([*lines, f"created {len(report.rows)} account(s)"])


async def create_institution(session: AsyncSession, data: InstitutionCreate) -> str:
    """Create a designated institution."""
    institution = await reference_service.create_institution(session, data)
    return f"created institution {institution.code} {institution.name_zh} ({institution.id})"


async def create_store(session: AsyncSession, data: PharmacyStoreCreate) -> str:
    """Create a partner store with the districts it delivers to."""
    store, covers = await reference_service.create_store(session, data)
    return f"created store {store.code} {store.name_zh}, delivering to {', '.join(covers)}"
