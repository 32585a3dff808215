"""Staff rules: who may be created where, suspension (which ends every sign-in session at
once), reinstatement, and moves between institutions or stores - each an audited act.

Passwords: a new account gets an initial password, the admin's or a random one generated and
shown once; the admin hands it over in person. This service has no mail or SMS channel that a
one-time set-password link could travel by, so such a link would be handed over the same way
and protect nothing more.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import app.staff.messages  # noqa: F401 - registers the error texts
from app.audit import service as audit_service
from app.audit.service import Actor, AuditAction
from app.auth.passwords import hash_password
from app.errors import AppError, NotFound
from app.kit.clock import utcnow
from app.kit.sql import add_unique
from app.models import (
    Account,
    AuditEvent,
    Doctor,
    Institution,
    PharmacyStaff,
    PharmacyStore,
    PrescriptionReviewer,
    Role,
)
from app.staff import repository as staff_repository
from app.staff.repository import STAFF_RESOURCE, Placement
from app.staff.schemas import StaffCreate, StaffMove, WorkplaceKind, WorkplaceOut

# Where each role may be placed (a pharmacist at an institution reviews its prescriptions).
WORKPLACES: dict[str, frozenset[WorkplaceKind]] = {
    Role.doctor: frozenset({"institution"}),
    Role.pharmacist: frozenset({"institution", "store"}),
    Role.courier: frozenset({"store"}),
}
DOCTOR_ONLY_FIELDS = ("department_zh", "title_zh", "max_active_patients", "specialties")


class StaffRefused(AppError):
    """A staff act refused: a request this role and place do not allow (422). `field` names
    the field at fault, which the spreadsheet import reports per row."""

    status = 422

    def __init__(
        self, code: str, field: str | None = None, params: dict[str, object] | None = None
    ) -> None:
        super().__init__(code)
        self.field = field
        # Set after: a message's values may include one named `code`.
        self.params = dict(params or {})


class StaffConflict(StaffRefused):
    """Refused by the accounts as they are: a name in use, a suspension already (or not) in
    force, a move to where the person already works or to another kind of post (409)."""

    status = 409


class StaffPlaceNotFound(StaffRefused):
    """The institution or store named does not exist (404)."""

    status = 404


@dataclass(frozen=True)
class Lookups:
    """What the checks need from the database, read once for a whole spreadsheet."""

    taken: set[str]
    institutions: dict[str, Institution]
    stores: dict[str, PharmacyStore]


async def lookups_for(session: AsyncSession, people: Sequence[StaffCreate]) -> Lookups:
    """The usernames already taken and the institutions and stores these people name."""
    return Lookups(
        taken=await staff_repository.usernames_taken(session, [p.username for p in people]),
        institutions=await staff_repository.institutions_by_code(
            session, sorted({p.institution_code for p in people if p.institution_code})
        ),
        stores=await staff_repository.active_stores_by_code(
            session, sorted({p.store_code for p in people if p.store_code})
        ),
    )


def check_new(data: StaffCreate, lookups: Lookups) -> list[StaffRefused]:
    """Every problem with creating this person, as the error it is answered with (none when
    it may be created): `create` raises the first, the spreadsheet import reports them all."""
    problems: list[StaffRefused] = []
    if data.username in lookups.taken:
        problems.append(
            StaffConflict("staff_username_taken", "username", {"username": data.username})
        )
    given: list[WorkplaceKind] = []
    if data.institution_code:
        given.append("institution")
    if data.store_code:
        given.append("store")
    if len(given) != 1 or given[0] not in WORKPLACES[data.role]:
        at_fault = "store_code" if data.role == Role.courier else "institution_code"
        problems.append(StaffRefused("staff_workplace_invalid", at_fault))
    elif data.institution_code and data.institution_code not in lookups.institutions:
        code = data.institution_code
        problems.append(
            StaffPlaceNotFound("staff_institution_not_found", "institution_code", {"code": code})
        )
    elif data.store_code and data.store_code not in lookups.stores:
        code = data.store_code
        problems.append(StaffPlaceNotFound("staff_store_not_found", "store_code", {"code": code}))
    if data.role == Role.doctor:
        problems += [
            StaffRefused("staff_doctor_profile_required", name)
            for name in ("department_zh", "title_zh")
            if not getattr(data, name)
        ]
    else:
        problems += [
            StaffRefused("staff_field_not_for_role", name)
            for name in DOCTOR_ONLY_FIELDS
            if getattr(data, name)
        ]
    return problems


def new_password() -> str:
    """A random initial password (96 bits, URL-safe: easy to read out and type)."""
    return secrets.token_urlsafe(12)


async def create(
    session: AsyncSession, actor: Actor, data: StaffCreate
) -> tuple[Placement, str | None]:
    """Create one staff member where the body says; returns them and the generated initial
    password (None when the admin chose it)."""
    lookups = await lookups_for(session, [data])
    problems = check_new(data, lookups)
    if problems:
        raise problems[0]
    chosen = data.initial_password.get_secret_value() if data.initial_password else None
    password = chosen or new_password()
    # argon2 is deliberately slow: keep it off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password)
    placed = await insert(session, actor, data, lookups, password_hash)
    return placed, None if chosen else password


async def insert(
    session: AsyncSession, actor: Actor, data: StaffCreate, lookups: Lookups, password_hash: str
) -> Placement:
    """Write a checked staff member: the account, where they work, the audit event. A
    username taken meanwhile (a concurrent identical create) is 409, never a second account."""
    account = Account(
        id=uuid.uuid4(),
        role=data.role,
        username=data.username,
        display_name=data.display_name,
        password_hash=password_hash,
        is_active=True,
    )
    if not await add_unique(session, account):
        raise StaffConflict("staff_username_taken", "username", {"username": data.username})
    doctor = store_staff = reviewer = None
    if data.role == Role.doctor and data.institution_code:
        doctor = Doctor(
            account_id=account.id,
            institution_id=lookups.institutions[data.institution_code].id,
            name=data.display_name,
            department_zh=data.department_zh,
            title_zh=data.title_zh,
            specialties=list(data.specialties),
        )
        if data.max_active_patients is not None:
            doctor.max_active_patients = data.max_active_patients
        session.add(doctor)
    elif data.institution_code:
        reviewer = PrescriptionReviewer(
            account_id=account.id, institution_id=lookups.institutions[data.institution_code].id
        )
        session.add(reviewer)
    elif data.store_code:
        store_staff = PharmacyStaff(
            account_id=account.id, store_id=lookups.stores[data.store_code].id
        )
        session.add(store_staff)
    await session.flush()
    placed = Placement(account, doctor, store_staff, reviewer)
    detail = {"role": data.role, "workplace": _detail(await workplace(session, placed))}
    await audit_service.record(
        session, actor, AuditAction.create, STAFF_RESOURCE, account.id, None, detail
    )
    return placed


async def workplace(session: AsyncSession, placed: Placement) -> WorkplaceOut | None:
    """Where a staff member works (None for one placed nowhere, e.g. an admin)."""
    at_institution = placed.doctor or placed.reviewer
    if at_institution is not None:
        institution = await staff_repository.get_institution(session, at_institution.institution_id)
        assert institution is not None
        return WorkplaceOut(
            kind="institution", id=institution.id, code=institution.code,
            name_zh=institution.name_zh,
        )  # fmt: skip
    if placed.store_staff is not None:
        store = await staff_repository.get_store(session, placed.store_staff.store_id)
        assert store is not None
        return WorkplaceOut(kind="store", id=store.id, code=store.code, name_zh=store.name_zh)
    return None


def _detail(place: WorkplaceOut | None) -> dict[str, Any] | None:
    return None if place is None else place.model_dump(mode="json")


async def get(session: AsyncSession, account_id: uuid.UUID) -> Placement:
    """A staff account with where it works; 404 for an unknown or a patient's account."""
    found = await staff_repository.placement(session, account_id)
    if found is None:
        raise NotFound("staff_not_found")
    return found


async def by_username(session: AsyncSession, username: str) -> Placement:
    """A staff account by username; 404 if there is none."""
    found = await staff_repository.placement_by_username(session, username.strip().lower())
    if found is None:
        raise NotFound("staff_not_found")
    return found


async def list_staff(
    session: AsyncSession, after_username: str | None, limit: int
) -> list[Placement]:
    """Staff accounts by username."""
    return await staff_repository.list_placements(session, after_username, limit)


async def _locked(session: AsyncSession, account_id: uuid.UUID) -> Placement:
    found = await staff_repository.placement(session, account_id, lock=True)
    if found is None:
        raise NotFound("staff_not_found")
    return found


async def suspend(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID, reason: str
) -> Placement:
    """Suspend a staff account: it cannot sign in, and every token it holds stops working at
    once (its sign-in sessions are ended, so reinstating does not revive them)."""
    placed = await _locked(session, account_id)
    if actor.account_id == account_id:
        raise StaffConflict("staff_cannot_suspend_self")
    if not placed.account.is_active:
        raise StaffConflict("staff_already_suspended")
    placed.account.is_active = False
    ended = await staff_repository.revoke_sessions(
        session, account_id, "account_suspended", utcnow()
    )
    await session.flush()
    await audit_service.record(
        session, actor, AuditAction.suspend, STAFF_RESOURCE, account_id, None,
        {"reason": reason, "sessions_ended": ended},
    )  # fmt: skip
    return placed


async def reinstate(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID, reason: str
) -> Placement:
    """Let a suspended staff account sign in again (with a new sign-in)."""
    placed = await _locked(session, account_id)
    if placed.account.is_active:
        raise StaffConflict("staff_not_suspended")
    placed.account.is_active = True
    await session.flush()
    await audit_service.record(
        session, actor, AuditAction.reinstate, STAFF_RESOURCE, account_id, None,
        {"reason": reason},
    )  # fmt: skip
    return placed


async def reset_password(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID
) -> tuple[Placement, str]:
    """Give a staff account a new random initial password (returned once) and end its
    sign-in sessions: for a forgotten password, or a create whose answer was lost (its retry
    is 409, and the generated password was only in that answer)."""
    placed = await _locked(session, account_id)
    password = new_password()
    placed.account.password_hash = await asyncio.to_thread(hash_password, password)
    ended = await staff_repository.revoke_sessions(session, account_id, "password_reset", utcnow())
    await session.flush()
    await audit_service.record(
        session, actor, AuditAction.update, STAFF_RESOURCE, account_id, None,
        {"password_reset": True, "sessions_ended": ended},
    )  # fmt: skip
    return placed, password


async def move(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID, body: StaffMove
) -> Placement:
    """Move a staff member to another institution or store, keeping the kind of post; the
    audit event keeps from where, to where and why."""
    placed = await _locked(session, account_id)
    current = await workplace(session, placed)
    target = await _target(session, placed, current, body)
    if current is not None and current.id == target.id:
        raise StaffConflict("staff_move_same_workplace")
    if placed.doctor is not None:
        placed.doctor.institution_id = target.id
    elif placed.reviewer is not None:
        placed.reviewer.institution_id = target.id
    elif placed.store_staff is not None:
        placed.store_staff.store_id = target.id
    elif target.kind == "institution":
        placed = Placement(placed.account, None, None, PrescriptionReviewer(
            account_id=account_id, institution_id=target.id
        ))  # fmt: skip
        session.add(placed.reviewer)
    else:
        placed = Placement(placed.account, None, PharmacyStaff(
            account_id=account_id, store_id=target.id
        ), None)  # fmt: skip
        session.add(placed.store_staff)
    await session.flush()
    await audit_service.record(
        session, actor, AuditAction.move, STAFF_RESOURCE, account_id, None,
        {"from": _detail(current), "to": _detail(target), "reason": body.reason},
    )  # fmt: skip
    return placed


async def _target(
    session: AsyncSession, placed: Placement, current: WorkplaceOut | None, body: StaffMove
) -> WorkplaceOut:
    """Where a move goes: exactly one place, of the kind the post allows, that exists."""
    if bool(body.institution_code) == bool(body.store_code):
        raise StaffRefused("staff_workplace_invalid")
    kind: WorkplaceKind = "institution" if body.institution_code else "store"
    allowed = WORKPLACES.get(placed.account.role, frozenset())
    if kind not in allowed or (current is not None and current.kind != kind):
        raise StaffConflict("staff_move_changes_kind")
    if body.institution_code:
        code = body.institution_code
        found = await staff_repository.institutions_by_code(session, [code])
        if code not in found:
            raise StaffPlaceNotFound(
                "staff_institution_not_found", "institution_code", {"code": code}
            )
        institution = found[code]
        return WorkplaceOut(
            kind="institution", id=institution.id, code=code, name_zh=institution.name_zh
        )
    code = body.store_code or ""
    stores = await staff_repository.active_stores_by_code(session, [code])
    if code not in stores:
        raise StaffPlaceNotFound("staff_store_not_found", "store_code", {"code": code})
    return WorkplaceOut(kind="store", id=stores[code].id, code=code, name_zh=stores[code].name_zh)


async def history(
    session: AsyncSession, account_id: uuid.UUID, after_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """The audited acts on a staff account, oldest first (404 for an unknown account)."""
    await get(session, account_id)
    return await staff_repository.history(session, account_id, after_id, limit)
