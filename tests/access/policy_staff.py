"""Access policy of staff administration and of creating stores: platform admins only."""

from __future__ import annotations

from app.models import Role
from tests.access.rules import Rule, only
from tests.fixtures import factories

ADMIN = Rule(only(Role.admin))
STAFF = "/api/v1/staff/{account_id}"

POLICY: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/staff"): ADMIN,
    ("GET", "/api/v1/staff"): ADMIN,
    ("POST", "/api/v1/staff/imports"): ADMIN,
    ("GET", STAFF): ADMIN,
    ("GET", STAFF + "/history"): ADMIN,
    ("POST", STAFF + "/suspend"): ADMIN,
    ("POST", STAFF + "/reinstate"): ADMIN,
    ("POST", STAFF + "/move"): ADMIN,
    ("POST", STAFF + "/password-reset"): ADMIN,
    ("POST", "/api/v1/pharmacy-stores"): ADMIN,
}


async def foreign_ids(session) -> dict[str, str]:
    """A courier's account, for the routes that act on one."""
    courier = await factories.account(session, Role.courier)
    return {"account_id": str(courier.id)}
