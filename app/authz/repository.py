"""SQL of the request's principal: the account and profile ids behind a live sign-in session."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, AuthSession, Doctor, Patient, PharmacyStaff

# Built once: it runs on every authenticated request, and building a statement costs more
# than running it (the compiled form is cached by the statement's shape).
_LIVE_PRINCIPAL = (
    select(
        Account.id.label("account_id"),
        Account.role,
        Account.display_name,
        Patient.id.label("patient_id"),
        Doctor.id.label("doctor_id"),
        PharmacyStaff.store_id.label("store_id"),
    )
    .join(AuthSession, AuthSession.account_id == Account.id)
    .outerjoin(Patient, Patient.account_id == Account.id)
    .outerjoin(Doctor, Doctor.account_id == Account.id)
    .outerjoin(PharmacyStaff, PharmacyStaff.account_id == Account.id)
    .where(
        Account.id == bindparam("account_id"),
        Account.is_active.is_(True),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)


async def get_live_principal_row(
    session: AsyncSession, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> Row[*tuple[Any, ...]] | None:
    """The account and profile ids behind a live (unrevoked, unexpired) session, in one query."""
    params = {"account_id": account_id, "session_id": session_id, "now": now}
    return (await session.execute(_LIVE_PRINCIPAL, params)).first()
