"""Password sign-in flood: how much a flood of wrong passwords slows everyone else.

    .venv/bin/python bench/sign_in_flood.py [--code DIR] [--flood 40] [--seconds 15]
                                           [--env NAME=VALUE ...]

Starts one uvicorn process (one worker, SQLite in a temporary directory) from the service's code
in DIR (this checkout by default; e.g. `git archive main | tar -x -C /tmp/main` to measure the
code before a change), creates one staff account and signs it in. A probe then reads
`GET /api/v1/auth/me` (token check, session query) every 100 ms: first for a few seconds alone,
then while `--flood` clients post wrong passwords for random usernames as fast as they are
answered, for `--seconds`. It prints the probe's latency in both phases and what the flood got.
`--control` floods `GET /healthz` instead: what the same clients cost without any argon2 work.
`--env` sets the server's settings (e.g. `SIGN_IN_RATE_PER_ADDRESS=100000/minute` measures the
bounded argon2 pool alone, without the per-address limit refusing most of the flood).
Everything it starts is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
USERNAME = "bench.doctor"
PASSWORD = "Bench-Passw0rd!"
PROBE_EVERY = 0.1
BASELINE_SECONDS = 5.0

_CREATE_ACCOUNT = f"""
import asyncio
from app.auth.passwords import hash_password
from app.config import get_settings
from app.db import create_engine, create_sessionmaker
from app.models import Account, Role

async def main():
    engine = create_engine(get_settings())
    async with create_sessionmaker(engine)() as session:
        session.add(Account(role=Role.admin, display_name="bench", username={USERNAME!r},
                            password_hash=hash_password({PASSWORD!r})))
        await session.commit()
    await engine.dispose()

asyncio.run(main())
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _describe(latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    return (
        f"n={len(ms)} p50 {statistics.median(ms):.0f} ms, p95 {_percentile(ms, 0.95):.0f} ms, "
        f"p99 {_percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )


async def _probe(http: httpx.AsyncClient, token: str, until: float) -> list[float]:
    latencies = []
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        started = time.monotonic()
        response = await http.get("/api/v1/auth/me", headers=headers)
        response.raise_for_status()
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(max(0.0, PROBE_EVERY - (time.monotonic() - started)))
    return latencies


async def _flood(
    http: httpx.AsyncClient, until: float, answers: Counter[int], control: bool
) -> None:
    while time.monotonic() < until:
        body = {"username": f"guess-{secrets.token_hex(6)}", "password": "wrong-password"}
        try:
            if control:
                response = await http.get("/healthz")
            else:
                response = await http.post("/api/v1/auth/password-login", json=body)
            answers[response.status_code] += 1
        except httpx.HTTPError:
            answers[0] += 1


async def _measure(base_url: str, flood: int, seconds: float, control: bool) -> None:
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=flood + 4)
    ) as http:
        login = await http.post(
            "/api/v1/auth/password-login", json={"username": USERNAME, "password": PASSWORD}
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        baseline = await _probe(http, token, time.monotonic() + BASELINE_SECONDS)
        answers: Counter[int] = Counter()
        until = time.monotonic() + seconds
        flooding = [
            asyncio.create_task(_flood(http, until, answers, control)) for _ in range(flood)
        ]
        during = await _probe(http, token, until)
        await asyncio.gather(*flooding)
    print(f"probe alone:        {_describe(baseline)}")
    print(f"probe under flood:  {_describe(during)}")
    total = sum(answers.values())
    print(
        f"flood answers in {seconds:.0f} s: {total} "
        f"({', '.join(f'{status}: {n}' for status, n in sorted(answers.items()))}); "
        f"argon2 checks/s ~{answers[401] / seconds:.1f}"
    )


def main() -> int:
    """Run the benchmark against the code in --code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout to run (default: this)")
    parser.add_argument("--flood", type=int, default=40, help="concurrent flooding clients")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the flood")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument(
        "--control",
        action="store_true",
        help="flood GET /healthz instead: what the same number of clients costs without argon2",
    )
    args = parser.parse_args()
    code = args.code.resolve()
    with tempfile.TemporaryDirectory(prefix="sign-in-flood-") as workdir:
        env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "PYTHONDONTWRITEBYTECODE": "1",
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/bench.db",
            "BLOB_DIR": f"{workdir}/blobs",
            "BACKGROUND_JOBS_ENABLED": "false",
            "OUTBOX_RELAY_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            **dict(item.split("=", 1) for item in args.env),
        }
        python = sys.executable
        subprocess.run([python, "-m", "app.cli", "migrate"], cwd=code, env=env, check=True)
        subprocess.run([python, "-c", _CREATE_ACCOUNT], cwd=code, env=env, check=True)
        port = _free_port()
        server = subprocess.Popen(
            [python, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)],
            cwd=code,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.1)
            what = "GET /healthz (control)" if args.control else "wrong passwords"
            settings = args.env or "defaults"
            print(f"code: {code}; flood: {args.flood} clients, {what}; settings: {settings}")
            print(f"load average before: {os.getloadavg()[0]:.1f}")
            asyncio.run(_measure(base_url, args.flood, args.seconds, args.control))
        finally:
            server.terminate()
            server.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
