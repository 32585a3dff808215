"""A pool with overflow against a fixed pool, under more concurrent requests than the pool.

    .venv/bin/python -m bench.pool_churn [--connections 16] [--seconds 20] [--overflow 10,0,10,0]

Creates a database and, for each `--overflow` value in turn, serves the service on one uvicorn
worker with `DB_POOL_SIZE=8` (as the other benches) and `DB_MAX_OVERFLOW` set to that value, no
periodic jobs and no outbox relay, and has `wrk` (`--connections`, no pause) send phones'
one-reading uploads (bench/cpu_per_request.lua, the steady-state path) for `--seconds`. For each
run it prints the uploads answered per second, wrk's p50 / p99, the PostgreSQL sessions opened
during the run (`pg_stat_database.sessions`), and the worker's CPU per upload. A connection
opened past the pool is closed as soon as it comes back to a full pool, so with overflow a load
that hovers around the pool's size opens a PostgreSQL backend every few requests; the CPU of
those short-lived backends is not counted here (they are gone before the run ends), only their
number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

import asyncpg

from bench.cpu_per_request import LIVE_SECONDS, cpu_seconds, prime, process_tree, server_pid
from bench.readings_setup import (
    DEFAULT_SERVER,
    bench_database,
    plain,
    run_wrk_script,
    seed_patients,
    uvicorn_server,
)

SCRIPT = Path(__file__).with_name("cpu_per_request.lua")
PATH = "/api/v1/readings"


async def sessions_opened(url: str) -> int:
    """PostgreSQL sessions established to the bench database so far."""
    connection = await asyncpg.connect(plain(url))
    try:
        count: int = await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    return count


async def main() -> None:
    """Run each overflow setting in turn and print its line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--overflow", default="10,0,10,0")
    args = parser.parse_args()
    os.environ["BACKGROUND_JOBS_ENABLED"] = "false"
    async with bench_database(args.server, "cc_bench_pool_churn") as url:
        for n, overflow in enumerate(args.overflow.split(",")):
            wearers = await seed_patients(url, 500, prefix=f"p{n}", interval=60, tokens=True)
            start = int(time.time()) - LIVE_SECONDS
            await prime(url, wearers, "cgm1", start)
            os.environ["DB_MAX_OVERFLOW"] = overflow
            with uvicorn_server(url, 1) as base:
                pid = server_pid(base)
                # Warm-up on a few wearers, with readings before the measured ones.
                run_wrk_script(
                    base, SCRIPT, wearers[:50], 2, 3, "cgm1", str(start - 600), "1", PATH
                )
                opened_before = await sessions_opened(url)
                service = process_tree(pid)
                cpu_before = cpu_seconds(service)
                figures = await asyncio.to_thread(
                    run_wrk_script, base, SCRIPT, wearers, args.connections, args.seconds,
                    "cgm1", str(start + 1), "1", PATH,
                )  # fmt: skip
                opened = await sessions_opened(url) - opened_before
                cpu_after = cpu_seconds(service)
            requests = figures["requests"]
            errors = figures["status_errors"] + figures["socket_errors"]
            cpu_ms = 1000 * sum(t - cpu_before.get(p, 0.0) for p, t in cpu_after.items())
            print(
                f"overflow {overflow}: {requests / args.seconds:.0f} uploads/s, {errors} errors, "
                f"p50 {figures['p50_us'] / 1000:.1f} ms, p99 {figures['p99_us'] / 1000:.1f} ms, "
                f"{opened} PostgreSQL sessions opened, "
                f"{cpu_ms / max(requests, 1):.2f} ms of the worker's CPU per upload",
                flush=True,
            )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; {args.connections} wrk connections, 1 worker, pool of 8")


if __name__ == "__main__":
    asyncio.run(main())
