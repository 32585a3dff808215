"""How operators start the service: a non-local bind (and the Docker image) runs as prod, any
port works without configuring the development fakes, a taken port says so."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from app.cli import served_base_url
from app.kit.public_address import is_local_host
from tests.fixtures import databases
from tests.fixtures.servers import PROJECT_ROOT, free_port, start_uvicorn

SERVER_ENV = {"OUTBOX_RELAY_ENABLED": "false", "BACKGROUND_JOBS_ENABLED": "false"}


def _runtime_stage(dockerfile: str) -> str:
    return dockerfile.split("AS runtime", 1)[1]


def test_the_docker_image_runs_prod_through_the_cli() -> None:
    runtime = _runtime_stage((PROJECT_ROOT / "Dockerfile").read_text())
    assert re.search(r"^\s*APP_ENV=prod\b", runtime, re.MULTILINE)
    assert re.search(r"^\s*FAKE_WECHAT_ENABLED=false\b", runtime, re.MULTILINE)
    command = runtime.split("CMD", 1)[1]
    assert "python -m app.cli serve --host 0.0.0.0" in command
    assert "forwarded-allow-ips" not in command


def test_the_docker_image_installs_dependencies_before_copying_the_code() -> None:
    # Layer caching: a change to app/ must not rebuild the dependency layer.
    lines = [
        line
        for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = [line.split(None, 1) for line in joined.splitlines() if line.strip()]
    install = next(
        i for i, (verb, rest) in enumerate(instructions) if verb == "RUN" and "pip install" in rest
    )
    copies = [(i, rest.split()) for i, (verb, rest) in enumerate(instructions) if verb == "COPY"]
    before = {source for i, words in copies if i < install for source in words[:-1]}
    assert before == {"pyproject.toml", "constraints.txt"}
    assert any("app" in words[-2:] for i, words in copies if i > install)


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("api.example.cn", False),
    ],
)
def test_only_loopback_binds_count_as_local(host: str, local: bool) -> None:
    assert is_local_host(host) is local


async def test_a_public_bind_without_app_env_refuses_the_development_secrets(
    tmp_path: Path,
) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("APP_ENV", "JWT_SECRET", "FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY")
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port()),
        cwd=tmp_path,  # no .env here
        env={**env, "PYTHONPATH": str(PROJECT_ROOT), **SERVER_ENV},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(60):
            _, stderr = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 2
    assert b"development secrets" in stderr


@pytest.mark.sqlite_file
async def test_a_public_bind_without_app_env_serves_as_prod(tmp_path: Path) -> None:
    env = {
        **SERVER_ENV,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
        "JWT_SECRET": secrets.token_urlsafe(32),
        "BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "WECHAT_SECRET": "a-real-wechat-app-secret",
        "FAKE_WECHAT_ENABLED": "false",
    }
    async with (
        start_uvicorn(env, via_cli=True, host="0.0.0.0", unset=["APP_ENV"]) as server,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        assert (await http.get("/healthz")).status_code == 200
        # prod: no API description, no metrics without a token, HSTS on
        assert (await http.get("/openapi.json")).status_code == 404
        assert (await http.get("/metrics")).status_code == 404
        assert "strict-transport-security" in (await http.get("/healthz")).headers


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),
        ("::1", "http://[::1]:8123"),
        ("::", "http://[::1]:8123"),
        ("localhost", "http://localhost:8123"),
    ],
)
def test_the_served_address_is_where_this_machine_reaches_the_bind(host: str, url: str) -> None:
    assert served_base_url(host, 8123) == url


async def test_a_patient_signs_in_through_the_fake_wechat_on_another_port() -> None:
    url = await databases.create_migrated_database()
    try:
        env = {**SERVER_ENV, "APP_ENV": "dev", "DATABASE_URL": url}
        unset = ["WECHAT_API_BASE", "PAYMENT_NOTIFY_BASE_URL", "SMS_API_BASE", "SERVED_BASE_URL"]
        async with (
            start_uvicorn(env, via_cli=True, unset=unset) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            assert not server.url.endswith(":8000")
            code = await http.post("/_dev/wechat/wx.login", json={"openid": "o-port-test"})
            signed_in = await http.post(
                "/api/v1/auth/wechat-login", json={"code": code.json()["code"]}
            )
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["access_token"]
    finally:
        await databases.drop_database(url)


@pytest.mark.sqlite_file
async def test_a_taken_port_is_named_in_plain_words(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "serve", "--port", str(port),
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **SERVER_ENV,
                 "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(60):
                stdout, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    said = stderr.decode()
    assert process.returncode == 3
    assert f"端口 {port} 已被占用" in said
    assert f"port {port} on 127.0.0.1 is already in use" in said
    assert "Traceback" not in said + stdout.decode()
