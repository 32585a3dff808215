"""The merged access policy of every domain (tests/access/policy_*.py): matrix and fuzz use it."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import tests.access
from tests.access.rules import Rule


def policy_modules() -> list[ModuleType]:
    """Every `tests/access/policy_<domain>.py` module."""
    return [
        importlib.import_module(f"tests.access.{info.name}")
        for info in pkgutil.iter_modules(tests.access.__path__)
        if info.name.startswith("policy_")
    ]


def merged_policy() -> dict[tuple[str, str], Rule]:
    """(method, path template) -> who may call it, across all domains (each route once)."""
    merged: dict[tuple[str, str], Rule] = {}
    for module in policy_modules():
        for route, rule in module.POLICY.items():
            assert route not in merged, f"{route} is declared twice"
            merged[route] = rule
    return merged
