"""Races on staff administration (PostgreSQL, real concurrent requests): identical creates make
one account and answer the rest 409; identical suspensions end the sessions once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, AuditEvent, Doctor, PrescriptionReviewer, Role
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres


async def _admin_and_hospital(server: RaceServer) -> tuple[dict[str, str], str]:
    async def build(session: AsyncSession):
        admin = await factories.account(session, Role.admin)
        code = f"H140302{uuid.uuid4().int % 99_999 + 1:05d}"
        await factories.institution(session, code=code)
        return await factories.bearer(session, server.settings, admin), code

    return await committed(server, build)


async def test_identical_creates_make_one_account(server: RaceServer) -> None:
    admin, code = await _admin_and_hospital(server)
    username = f"dr.race-{uuid.uuid4().hex[:8]}"
    body = {
        "role": "doctor", "username": username, "display_name": "并发医生",
        "institution_code": code, "department_zh": "内科", "title_zh": "主治医师",
    }  # fmt: skip
    result = await race(server.http, "POST", "/api/v1/staff", json=body, headers=admin)
    winner = result.one_winner("staff_username_taken")
    assert winner.status_code == 201
    accounts = await server.scalar(select(func.count()).where(Account.username == username))
    doctors = await server.scalar(
        select(func.count()).select_from(Doctor).join(Account, Account.id == Doctor.account_id)
        .where(Account.username == username)
    )  # fmt: skip
    assert accounts == 1 and doctors == 1


async def test_identical_suspensions_suspend_once(server: RaceServer) -> None:
    admin, _ = await _admin_and_hospital(server)

    async def build(session: AsyncSession) -> str:
        return str((await factories.account(session, Role.courier)).id)

    account_id = await committed(server, build)
    result = await race(
        server.http, "POST", f"/api/v1/staff/{account_id}/suspend",
        json={"reason": "离职"}, headers=admin,
    )  # fmt: skip
    result.one_winner("staff_already_suspended")
    events = await server.scalar(
        select(func.count()).where(
            AuditEvent.resource_id == account_id, AuditEvent.action == "suspend"
        )
    )
    assert events == 1


async def test_identical_reviewer_registrations_make_one_reviewer(server: RaceServer) -> None:
    """Registering a reviewer is idempotent one by one (the same row again), so it is at once
    too: every answer is that one row, never a 500 from the unique pharmacist."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], str, str]:
        admin = await factories.account(session, Role.admin)
        hospital = await factories.institution(session)
        # A hospital pharmacist: an account on no store's staff.
        pharmacist = Account(
            role=Role.pharmacist,
            username=f"rx-{uuid.uuid4().hex[:8]}",
            display_name="审方药师",
            password_hash=factories.PASSWORD_HASH,
        )
        session.add(pharmacist)
        await session.flush()
        bearer = await factories.bearer(session, server.settings, admin)
        return bearer, str(hospital.id), str(pharmacist.id)

    admin, institution_id, account_id = await committed(server, build)
    body = {"account_id": account_id, "institution_id": institution_id}
    result = await race(
        server.http, "POST", "/api/v1/prescription-reviewers", json=body, headers=admin
    )
    result.all_replay()
    rows = await server.scalar(
        select(func.count()).where(PrescriptionReviewer.account_id == uuid.UUID(account_id))
    )
    assert rows == 1
