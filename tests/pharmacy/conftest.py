"""The pilot world every test here starts from (rolled back after each test)."""

from __future__ import annotations

import pytest

from tests.prescription.world import World, build


@pytest.fixture
async def world(db_session, settings) -> World:
    """An entitled patient in care, a reviewer, a formulary and a stocked store with staff."""
    return await build(db_session, settings)
