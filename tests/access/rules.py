"""The vocabulary of access policies."""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Role

ALL = frozenset(Role)


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and whether foreign ids in its path must stay hidden (404)."""

    roles: frozenset[Role] | None  # None = public, no sign-in needed
    hidden: bool = False


PUBLIC = Rule(None)


def only(*roles: Role) -> frozenset[Role]:
    """The given roles."""
    return frozenset(roles)
