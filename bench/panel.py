"""Doctor's panel bench (PostgreSQL): one doctor, 200 patients with 14 days of 5-minute CGM and
a BP reading every 12 hours; the panel timed through HTTP with the CGM day rollups current,
stale after every patient's latest upload, and all stale for 15 days; and the reading worker's
rollup pass timed on the same stale state.

    .venv/bin/python -m bench.panel [--server URL] [--patients 200] [--requests 20] [--rounds 5]

Creates and migrates a database (the readings take about a minute), serves it with one uvicorn
worker with the periodic jobs off (so that nothing refreshes rollups behind the measurement),
and drops the database at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.readings_analytics import PANEL_BP, PANEL_CGM, STALE, doctor_with_patients
from bench.readings_setup import (
    DEFAULT_SERVER,
    Wearer,
    bench_database,
    bench_settings,
    plain,
    seed_patients,
    uvicorn_server,
)

STALE_COUNT = "SELECT count(*) FROM reading_latest WHERE kind = 'cgm' AND stale_from IS NOT NULL"


def figures(samples: list[float]) -> str:
    """p50 / max in ms (and how many)."""
    median, most = statistics.median(samples), max(samples)
    return f"p50 {median:7.1f} ms   max {most:7.1f} ms   (n={len(samples)})"


async def timed_panel(http: httpx.AsyncClient, token: str) -> float:
    """One panel request, in ms."""
    started = time.perf_counter()
    response = await http.get("/api/v1/panel", headers={"Authorization": f"Bearer {token}"})
    elapsed = 1000 * (time.perf_counter() - started)
    response.raise_for_status()
    return elapsed


async def upload_latest(http: httpx.AsyncClient, wearers: list[Wearer], at: datetime) -> None:
    """Every patient uploads one CGM reading measured at `at`, as the phones do every 5 min."""
    limit = asyncio.Semaphore(8)

    async def one(wearer: Wearer) -> None:
        item = {
            "kind": "cgm",
            "device_id": str(wearer.device_id),
            "measured_at": at.isoformat(),
            "value": 123,
            "unit": "mg/dL",
        }
        async with limit:
            response = await http.post(
                "/api/v1/readings",
                json={"items": [item]},
                headers={"Authorization": f"Bearer {wearer.token}"},
            )
            response.raise_for_status()

    await asyncio.gather(*(one(w) for w in wearers))


async def background_pass(url: str) -> tuple[int, float]:
    """One run of the worker's `cgm-rollups` job in this process: (patients refreshed, seconds)."""
    from app.analytics.jobs import refresh_stale_rollups
    from app.db import create_engine, create_sessionmaker

    settings = bench_settings(url)
    engine = create_engine(settings)
    try:
        started = time.perf_counter()
        refreshed = await refresh_stale_rollups(create_sessionmaker(engine), settings)
        return refreshed, time.perf_counter() - started
    finally:
        await engine.dispose()


async def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["BACKGROUND_JOBS_ENABLED"] = "false"
    async with bench_database(args.server, "cc_bench_panel") as url:
        wearers = await seed_patients(url, args.patients, prefix="panel")
        ids = [w.patient_id for w in wearers]
        connection = await asyncpg.connect(plain(url))
        await connection.execute(PANEL_CGM, ids)
        await connection.execute(PANEL_BP, ids)
        await connection.execute("VACUUM ANALYZE readings")
        await connection.close()
        token = await doctor_with_patients(url, ids)
        # The generated readings end at this minute; uploads go in between them, in the past.
        last = datetime.now(UTC).replace(second=0, microsecond=0)
        results: dict[str, list[float]] = {}
        passes: list[str] = []
        with uvicorn_server(url, 1) as base:
            async with httpx.AsyncClient(base_url=base, timeout=300) as http:
                connection = await asyncpg.connect(plain(url))
                await connection.execute(STALE, ids)
                await timed_panel(http, token)  # computes every rollup: current from here on
                results["rollups current"] = [
                    await timed_panel(http, token) for _ in range(args.requests)
                ]
                uploaded, fifteen = [], []
                for round_ in range(args.rounds):
                    await upload_latest(http, wearers, last - timedelta(minutes=5 * round_ + 2))
                    stale = await connection.fetchval(STALE_COUNT)
                    uploaded.append(await timed_panel(http, token))
                    await connection.execute(STALE, ids)
                    fifteen.append(await timed_panel(http, token))
                results[f"after each patient's upload ({stale} stale)"] = uploaded
                results["all stale for 15 days"] = fifteen
                for round_ in range(args.rounds):
                    at = last - timedelta(minutes=5 * (args.rounds + round_) + 2)
                    await upload_latest(http, wearers, at)
                    stale = await connection.fetchval(STALE_COUNT)
                    refreshed, seconds = await background_pass(url)
                    left = await connection.fetchval(STALE_COUNT)
                    passes.append(
                        f"{stale} stale -> {refreshed} refreshed in {1000 * seconds:.0f} ms, "
                        f"{left} left"
                    )
                await connection.close()
    print(f"doctor's panel, {args.patients} patients, 14 days of 5-minute CGM each:")
    for name, samples in results.items():
        print(f"  {name:<40} {figures(samples)}")
    print("reading worker pass after every patient's upload:")
    for line in passes:
        print(f"  {line}")


if __name__ == "__main__":
    asyncio.run(main())
