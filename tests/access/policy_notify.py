"""Access policy of notification consent: only a patient reports and reads their own
subscription grants (staff accounts have no WeChat address)."""

from __future__ import annotations

from app.models import Role
from tests.access.rules import Rule, only

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/me/subscription-grants"): Rule(only(Role.patient)),
    ("POST", "/api/v1/me/subscription-grants"): Rule(only(Role.patient)),
}


async def foreign_ids(session) -> dict[str, str]:
    """Nothing of another person's is addressed: the grants are always my own."""
    return {}
