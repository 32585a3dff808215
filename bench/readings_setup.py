"""Shared set-up of the readings benches: a fresh migrated PostgreSQL database, patients with
bound CGMs and sign-in tokens, and a real uvicorn server."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from alembic import command
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.auth import service as auth_service  # noqa: E402
from app.config import Environment, Settings  # noqa: E402
from app.db import create_engine, create_sessionmaker  # noqa: E402
from app.health.migrations_state import alembic_config  # noqa: E402
from app.models import Account  # noqa: E402

DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def plain(url: str) -> str:
    """An asyncpg DSN for a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def bench_database(server: str, prefix: str) -> AsyncIterator[str]:
    """A new migrated database on `server`, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain(server))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        config = alembic_config(url)
        config.attributes["configure_logging"] = False
        await asyncio.to_thread(command.upgrade, config, "heads")
        yield url
    finally:
        admin = await asyncpg.connect(plain(server))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass(frozen=True)
class Wearer:
    """A bench patient: ids, their CGM and an access token."""

    account_id: uuid.UUID
    patient_id: uuid.UUID
    device_id: uuid.UUID
    token: str


SEED_PATIENTS = """
WITH made AS (
    INSERT INTO accounts (id, role, display_name, wechat_openid, is_active, created_at)
    SELECT gen_random_uuid(), 'patient', $1 || i, $1 || '-openid-' || i, true, now()
    FROM generate_series(1, $2) i
    RETURNING id, display_name
)
INSERT INTO patients (id, account_id, name, gender, insurance_type, timezone, created_at)
SELECT gen_random_uuid(), id, display_name, 'unknown', '390', 'Asia/Shanghai', now() FROM made
RETURNING id, account_id
"""
SEED_DEVICES = """
INSERT INTO devices (id, patient_id, kind, model, serial, unit, sample_interval_seconds, source,
                     bound_at, created_at)
SELECT gen_random_uuid(), p, 'cgm', 'Bench CGM', 'BENCH-' || p::text, 'mg/dL', $2, 'app',
       now() - interval '200 days', now()
FROM unnest($1::uuid[]) p
RETURNING id, patient_id
"""


async def seed_patients(
    url: str, count: int, prefix: str = "bench", interval: int = 300, tokens: bool = True
) -> list[Wearer]:
    """`count` patients with a bound CGM each (and access tokens when asked)."""
    connection = await asyncpg.connect(plain(url))
    try:
        patients = await connection.fetch(SEED_PATIENTS, prefix, count)
        ids = [r["id"] for r in patients]
        devices = {
            r["patient_id"]: r["id"] for r in await connection.fetch(SEED_DEVICES, ids, interval)
        }
    finally:
        await connection.close()
    settings = bench_settings(url)
    engine = create_engine(settings)
    wearers: list[Wearer] = []
    async with create_sessionmaker(engine)() as session:
        for row in patients:
            token = ""
            if tokens:
                account = await session.get(Account, row["account_id"])
                assert account is not None
                token = (
                    await auth_service.start_session(session, settings, account, "bench")
                ).access_token
            wearers.append(Wearer(row["account_id"], row["id"], devices[row["id"]], token))
        await session.commit()
    await engine.dispose()
    return wearers


def bench_settings(url: str) -> Settings:
    """Settings of the bench app (test environment, no relay, quiet logs); its access tokens
    last a working day, since growing the table to its largest size takes longer than 15 min."""
    return Settings(
        APP_ENV=Environment.test,
        database_url=url,
        outbox_relay_enabled=False,
        log_level="WARNING",
        access_token_ttl_seconds=8 * 3600,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(
    url: str, workers: int, app: tuple[str, ...] = ("app.main:create_app", "--factory")
) -> Iterator[str]:
    """uvicorn with `workers` processes serving `app` (the service by default) on `url`'s
    database; yields base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "OUTBOX_RELAY_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "8",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        # Importing the service takes over 30 s on a loaded 2-core machine.
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


WRK_THREADS = 2


def run_wrk_script(
    base: str, script: Path, wearers: list[Wearer], connections: int, seconds: int, *args: str
) -> dict[str, int]:
    """wrk (a C load generator: the client costs the two cores little) running `script` against
    `base` for `seconds`; the script gets a file of the wearers ("token device_id patient_id"
    per line, "-" without a token), the thread count and `args`, and prints a RESULT line of
    its figures, returned here."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listing:
        listing.writelines(f"{w.token or '-'} {w.device_id} {w.patient_id}\n" for w in wearers)
        listing.flush()
        output = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
             "-s", str(script), base, "--", listing.name, str(WRK_THREADS), *args],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    result = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return {k: int(v) for k, v in (field.split("=") for field in result.split()[1:])}
