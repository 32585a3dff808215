"""A declared state machine: the legal transitions in one table, everything else refused (409).

Prescriptions, orders, quality returns and signing keys each declare one `StateMachine`; services
ask it before changing a status, so an illegal request answers 409 before anything is written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, NoReturn, TypeVar

from app.errors import Conflict

S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class StateMachine(Generic[S]):
    """Legal moves `from -> {to}`; states with no moves are terminal."""

    name: str
    initial: S
    moves: Mapping[S, frozenset[S]]

    def __post_init__(self) -> None:
        known = set(type(self.initial))
        for source, targets in self.moves.items():
            unknown = ({source} | targets) - known
            if unknown:
                raise ValueError(f"{self.name}: unknown states {sorted(unknown)}")

    def allows(self, source: S, target: S) -> bool:
        """Whether `source -> target` is declared."""
        return target in self.moves.get(source, frozenset())

    def check(self, source: S, target: S) -> None:
        """Refuse an undeclared move with 409 `illegal_transition` (nothing is changed)."""
        if not self.allows(source, target):
            self.refuse(source, target)

    def refuse(self, source: S, target: S) -> NoReturn:
        """Answer 409 `illegal_transition` for `source -> target`."""
        raise Conflict(
            "illegal_transition",
            extra={"from": str(source), "to": str(target), "machine": self.name},
            source=str(source),
            target=str(target),
        )

    def is_terminal(self, state: S) -> bool:
        """Whether no move leaves `state`."""
        return not self.moves.get(state)

    def reachable(self) -> set[S]:
        """Every state reachable from the initial one."""
        seen: set[S] = {self.initial}
        frontier: list[S] = [self.initial]
        while frontier:
            for target in self.moves.get(frontier.pop(), frozenset()):
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return seen


def moves(*pairs: tuple[S, Iterable[S]]) -> dict[S, frozenset[S]]:
    """Build a moves table from `(source, targets)` pairs."""
    return {source: frozenset(targets) for source, targets in pairs}
