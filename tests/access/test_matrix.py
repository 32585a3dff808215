"""Walk every endpoint with every role and someone else's ids; fail on any leak or gap."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.models import Role
from tests.access.policies import merged_policy, policy_modules
from tests.access.rules import Rule
from tests.fixtures import factories

# Ends the caller's session: it gets a session of its own, so the walk goes on signed in.
LOGOUT = ("POST", "/api/v1/auth/logout")


def _routes(app) -> list[tuple[str, str]]:
    return sorted(
        (method, context.path_format)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
        for method in (context.methods or set()) - {"HEAD"}
    )


def test_every_route_has_a_policy(app) -> None:
    policy = merged_policy()
    routes = _routes(app)
    assert [r for r in routes if r not in policy] == [], "declare these in tests/access/"
    assert [r for r in policy if r not in routes] == [], "these routes no longer exist"


@pytest.fixture
async def foreign_ids(db_session) -> dict[str, str]:
    ids: dict[str, str] = {}
    for module in policy_modules():
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
    if rule.hidden and role not in rule.sees_all:
        return None if status == 404 else "expected 404 for someone else's resource"
    return "allowed role refused" if status in (401, 403) else None


async def test_matrix(app, client, db_session, settings, foreign_ids) -> None:
    accounts = {role: await factories.account(db_session, role) for role in Role}
    callers: dict[Role | None, dict[str, str]] = {None: {}}
    for role, account in accounts.items():
        callers[role] = await factories.bearer(db_session, settings, account)
    policy = merged_policy()
    failures = []
    for method, path in _routes(app):
        url = path.format(**foreign_ids)
        for role, headers in callers.items():
            if (method, path) == LOGOUT and role is not None:
                headers = await factories.bearer(db_session, settings, accounts[role])
            rule = policy[(method, path)]
            body = rule.body if rule.body is not None else {}
            response = await client.request(method, url, headers=headers, json=body)
            problem = _judge(rule, role, response.status_code)
            if problem:
                failures.append(
                    f"{method} {path} as {role or 'anonymous'}: {response.status_code} ({problem})"
                )
    assert failures == []
