"""Property-based fuzzing of the whole OpenAPI description (schemathesis).

Every operation of the app's own OpenAPI document is called with generated (valid and invalid)
parameters and bodies, in-process, against a migrated SQLite database holding the demo city, as a
role the access policy (tests/access/policy_*.py) lets call it, with a real access token. Most ids
in paths, queries and bodies are the ids of real rows, so the fuzz reaches past the 404s into the
rules. Checks: no 5xx, the response matches its declared status, content type and schema, and
every error is application/problem+json.

Generation is deterministic (the same cases every run) and bounded per operation, so the run
takes a few minutes; it runs once per CI run, in the SQLite pass. For a deeper local run:
`FUZZ_EXAMPLES=100 .venv/bin/pytest tests/fuzz`. Outside the description, hence not fuzzed here:
the /ws websocket (tests/access/test_socket_matrix.py, tests/realtime), and /metrics, /dashboard
and the development fakes, which are not part of the API.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.fake_wechat import create_fake_wechat_app
from app.auth.wechat import WeChatClient
from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.demo.seed import load_demo_data
from app.errors import PROBLEM_JSON
from app.main import create_app
from app.models import Account, Role
from tests.access.policies import merged_policy
from tests.fixtures import databases
from tests.fuzz import real_ids

FAKE_WECHAT_BASE = "http://fake-wechat.test"
# The demo person who plays each role (app/demo/data.py).
DEMO_LOGINS: dict[Role, str] = {
    Role.patient: "demo-openid-patient-1",
    Role.doctor: "dr.zhang",
    Role.pharmacist: "rx.sun",
    Role.courier: "courier.wu",
    Role.bureau: "bureau.wang",
    Role.admin: "admin",
}
LOGOUT = ("POST", "/api/v1/auth/logout")
# Each logout example ends a session of its own; more than the examples ever drawn.
LOGOUT_SESSIONS = 40
# Of the ids in paths, queries and bodies, this share is replaced by the id of a real row.
REAL_ID_SHARE = 0.7
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "6"))
# Long enough for any run: the fuzz is not about expiry (tests/hostile/test_tokens.py is).
TOKEN_TTL_SECONDS = 24 * 3600

pytestmark = pytest.mark.skipif(
    databases.on_postgres(), reason="the fuzz runs once per CI run, in the SQLite pass"
)


def _settings(database_url: str, blob_dir: str) -> Settings:
    return Settings(
        APP_ENV=Environment.test,
        database_url=database_url,
        redis_url=None,
        outbox_relay_enabled=False,
        background_jobs_enabled=False,
        wechat_api_base=FAKE_WECHAT_BASE,
        blob_dir=blob_dir,
        access_token_ttl_seconds=TOKEN_TTL_SECONDS,
    )


# The description under test is the one the app serves (and CI keeps openapi/openapi.json equal
# to it); the database is only needed when the operations are called.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(_settings("sqlite+aiosqlite:///:memory:", "./var/blobs")).openapi(),
    config=schemathesis.Config.from_dict(
        {
            "phases": {
                "stateful": {"enabled": False},
                # Boundary values, missing and mistyped fields, unexpected methods.
                "coverage": {"enabled": True},
            },
            "generation": {"deterministic": True},
        }
    ),
)
POLICY = merged_policy()


@dataclass
class FuzzWorld:
    """The app under test, a bearer token per role, and ids of real rows by path parameter."""

    app: object
    tokens: dict[Role, str]
    logout_tokens: dict[Role, list[str]]
    ids: dict[str, list[str]] = field(default_factory=dict)

    def token_for(self, role: Role, method: str, path: str) -> str:
        """The role's token; a fresh session's for logout, so the others stay signed in."""
        if (method, path) == LOGOUT:
            assert self.logout_tokens[role], "raise LOGOUT_SESSIONS"
            return self.logout_tokens[role].pop()
        return self.tokens[role]


async def _sign_in(session, settings: Settings, role: Role) -> str:
    login = DEMO_LOGINS[role]
    column = Account.wechat_openid if role == Role.patient else Account.username
    account = await session.scalar(select(Account).where(column == login))
    assert account is not None, login
    pair = await auth_service.start_session(session, settings, account, "schemathesis")
    return pair.access_token


@pytest.fixture(scope="module")
async def fuzz_world() -> AsyncIterator[FuzzWorld]:
    """A migrated SQLite database with the demo city, and the app over it (lifespan on)."""
    directory = Path(tempfile.mkdtemp(prefix="cc-fuzz-"))
    if databases.on_postgres():
        # The worker's migrated template is a PostgreSQL database: migrate a file of our own.
        url = f"sqlite+aiosqlite:///{directory / 'fuzz.db'}"
        await databases.migrate(url)
    else:
        # A copy of the worker's migrated template costs milliseconds, a migration run seconds.
        url = await databases.create_migrated_database()
    settings = _settings(url, str(directory / "blobs"))
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            await load_demo_data(session)
            tokens = {role: await _sign_in(session, settings, role) for role in Role}
            logout_tokens = {
                role: [await _sign_in(session, settings, role) for _ in range(LOGOUT_SESSIONS)]
                for role in Role
            }
            await real_ids.open_care_conversations(session)
            ids = await real_ids.collect(session)
            await session.commit()
    finally:
        await engine.dispose()
    app = create_app(settings)
    fake = create_fake_wechat_app(settings.wechat_appid, settings.wechat_secret)
    app.state.wechat = WeChatClient(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url=FAKE_WECHAT_BASE),
        FAKE_WECHAT_BASE,
        settings.wechat_appid,
        settings.wechat_secret,
    )
    yield FuzzWorld(app=app, tokens=tokens, logout_tokens=logout_tokens, ids=ids)
    asgi.shutdown_lifespans()
    await databases.drop_database(url)
    shutil.rmtree(directory, ignore_errors=True)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_role_is_signed_in(fuzz_world: FuzzWorld) -> None:
    """The fuzz's callers are who they claim (else every case would stop at 401)."""
    with asgi.get_client(fuzz_world.app) as client:
        for role, token in fuzz_world.tokens.items():
            me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200 and me.json()["role"] == role, me.text


def _use_real_ids(value: object, ids: dict[str, list[str]], choose: random.Random) -> None:
    """Point id fields (`patient_id`, `drug_id` ...) anywhere in a body or query at real rows."""
    if isinstance(value, list):
        for item in value:
            _use_real_ids(item, ids, choose)
    elif isinstance(value, dict):
        for key, item in value.items():
            known = ids.get(key) if isinstance(key, str) else None
            if known and isinstance(item, str) and choose.random() < REAL_ID_SHARE:
                value[key] = choose.choice(known)
            else:
                _use_real_ids(item, ids, choose)


def _case_random(case) -> random.Random:
    """A generator seeded by the case's content: the same case always gets the same choices."""
    content = repr((case.path_parameters, case.query, case.headers, case.body))
    return random.Random(zlib.crc32(content.encode("utf-8", "surrogatepass")))


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_operation(case, fuzz_world: FuzzWorld) -> None:
    """No 5xx, responses as declared, every error problem+json, for any input and role."""
    # The documented method (the coverage phase also sends methods the path does not allow).
    method, path = case.operation.method.upper(), case.operation.path
    rule = POLICY[(method, path)]
    choose = _case_random(case)
    headers: dict[str, str] = {}
    if rule.roles is not None:
        role = choose.choice(sorted(rule.roles))
        headers["Authorization"] = f"Bearer {fuzz_world.token_for(role, method, path)}"
    # Most ids name real rows (so the rules run); the rest keep the generated, unknown value.
    for name in list(case.path_parameters or {}):
        known = fuzz_world.ids.get(name)
        if known and choose.random() < REAL_ID_SHARE:
            case.path_parameters[name] = choose.choice(known)
    if case.query:
        _use_real_ids(case.query, fuzz_world.ids, choose)
    if isinstance(case.body, dict | list):
        _use_real_ids(case.body, fuzz_world.ids, choose)
    response = case.call(app=fuzz_world.app, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)
    # Errors are problem+json, except where a provider's protocol fixes another answer (the
    # payment notifications declare theirs, and the checks above hold them to it).
    declared = case.operation.responses.find_by_status_code(response.status_code)
    if response.status_code >= 400 and (declared is None or declared.status_code == "default"):
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.startswith(PROBLEM_JSON), (response.status_code, response.text[:500])
