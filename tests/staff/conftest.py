"""What the staff tests share: an admin's headers and places to put people."""

from __future__ import annotations

import uuid

import pytest

from app.models import Institution, PharmacyStore, Role
from tests.fixtures import factories


def national_code(kind: str = "H", area: str = "140302") -> str:
    """A fresh code in the national 12-character shape."""
    return f"{kind}{area}{uuid.uuid4().int % 99_999 + 1:05d}"


@pytest.fixture
async def admin(db_session, settings) -> dict[str, str]:
    """An admin's bearer headers."""
    account = await factories.account(db_session, Role.admin)
    return await factories.bearer(db_session, settings, account)


@pytest.fixture
async def hospital(db_session) -> Institution:
    """An institution with a national code."""
    return await factories.institution(db_session, code=national_code())


@pytest.fixture
async def other_hospital(db_session) -> Institution:
    """A second institution."""
    return await factories.institution(db_session, code=national_code())


@pytest.fixture
async def store(db_session) -> PharmacyStore:
    """A partner store."""
    return await factories.store(db_session)
