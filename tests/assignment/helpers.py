"""Shared steps of the assignment tests."""

from __future__ import annotations

from app.models import Account
from tests.fixtures import factories


async def headers(db_session, settings, account: Account) -> dict[str, str]:
    """Bearer headers of a fresh session of `account`."""
    return await factories.bearer(db_session, settings, account)


async def start(client, headers: dict[str, str], institution_id) -> dict:
    """POST /online-care/start and return the body (asserting success)."""
    response = await client.post(
        "/api/v1/online-care/start", json={"institution_id": str(institution_id)}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()
