"""The pilot world every test here starts from (rolled back after each test)."""

from __future__ import annotations

import pytest

from tests.prescription.world import World, build


@pytest.fixture
async def world(db_session, settings, app) -> World:
    """An entitled patient in care, a reviewer, a formulary and a stocked store with staff
    (arranged through the services of the app under test)."""
    return await build(db_session, settings, app=app)
