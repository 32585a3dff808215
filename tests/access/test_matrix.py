"""Walk every endpoint with every role and someone else's ids; fail on any leak or gap."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

import tests.access
from app.models import Role
from tests.access.rules import Rule
from tests.fixtures import factories

# Would end the caller's session for the rest of the walk; covered by the auth tests.
SKIPPED = {("POST", "/api/v1/auth/logout")}


def _policy_modules() -> list[object]:
    return [
        importlib.import_module(f"tests.access.{info.name}")
        for info in pkgutil.iter_modules(tests.access.__path__)
        if info.name.startswith("policy_")
    ]


def _policy() -> dict[tuple[str, str], Rule]:
    merged: dict[tuple[str, str], Rule] = {}
    for module in _policy_modules():
        for route, rule in module.POLICY.items():  # type: ignore[attr-defined]
            assert route not in merged, f"{route} is declared twice"
            merged[route] = rule
    return merged


def _routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in (context.methods or set()) - {"HEAD"}
    )


def test_every_route_has_a_policy(app) -> None:
    policy = _policy()
    routes = _routes(app)
    assert [r for r in routes if r not in policy] == [], "declare these in tests/access/"
    assert [r for r in policy if r not in routes] == [], "these routes no longer exist"


@pytest.fixture
async def foreign_ids(db_session) -> dict[str, str]:
    ids: dict[str, str] = {}
    for module in _policy_modules():
        ids.update(await module.foreign_ids(db_session))  # type: ignore[attr-defined]
    return ids


def _judge(rule: Rule, role: Role | None, status: int) -> str | None:
    if status >= 500:
        return "server error"
    if rule.roles is None:
        return None
    if role is None:
        return None if status == 401 else "expected 401"
    if role not in rule.roles:
        return None if status in (403, 404) else "expected 403/404"
    if rule.hidden:
        return None if status == 404 else "expected 404 for someone else's resource"
    return "allowed role refused" if status in (401, 403) else None


async def test_matrix(app, client, db_session, settings, foreign_ids) -> None:
    callers: dict[Role | None, dict[str, str]] = {None: {}}
    for role in Role:
        account = await factories.account(db_session, role)
        callers[role] = await factories.bearer(db_session, settings, account)
    policy = _policy()
    failures = []
    for method, path in _routes(app):
        if (method, path) in SKIPPED:
            continue
        url = path.format(**foreign_ids)
        for role, headers in callers.items():
            response = await client.request(method, url, headers=headers, json={})
            problem = _judge(policy[(method, path)], role, response.status_code)
            if problem:
                failures.append(
                    f"{method} {path} as {role or 'anonymous'}: {response.status_code} ({problem})"
                )
    assert failures == []
