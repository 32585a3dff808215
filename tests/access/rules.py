"""The vocabulary of access policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.models import Role

ALL = frozenset(Role)


@dataclass(frozen=True)
class Rule:
    """Who may call a route, and whether foreign ids in its path must stay hidden (404)."""

    roles: frozenset[Role] | None  # None = public, no sign-in needed
    hidden: bool = False
    # Allowed roles that manage every row of this kind (as admins manage every care team): someone
    # else's id is not hidden from them, but they must not be refused either.
    sees_all: frozenset[Role] = frozenset()
    # A valid body, where the scope check sits behind body validation (else `{}` is sent).
    body: Mapping[str, Any] | None = None


PUBLIC = Rule(None)


def only(*roles: Role) -> frozenset[Role]:
    """The given roles."""
    return frozenset(roles)
