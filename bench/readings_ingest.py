"""Ingestion bench: readings/s through HTTP (batches of 288, concurrent clients, 2 uvicorn
workers, PostgreSQL) against the raw asyncpg insert rate of the same rows in the same run.

    .venv/bin/python -m bench.readings_ingest [--server URL] [--batches 1200] [--seconds 30]

Creates a database, seeds patients with CGMs and tokens, measures raw asyncpg COPY and the
app's own unnest INSERT on fresh keys, then the full HTTP path under wrk (token check, device
lookup, per-item validation, bulk insert, latest values, alert rules, audit, commit), checks
that every answered reading is stored, and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.readings_setup import (
    DEFAULT_SERVER,
    Wearer,
    bench_database,
    plain,
    run_wrk_script,
    seed_patients,
    uvicorn_server,
)

BATCH = 288  # one day of 5-minute CGM readings
PATIENTS = 64
HTTP_WEARERS = 600  # x DAYS distinct batches for the HTTP run
DAYS = 85  # days back each HTTP wearer uploads (inside the 90-day backfill window)
COLUMNS = (
    "device_id", "kind", "measured_at", "patient_id", "utc_offset_minutes", "value",
    "original_value", "original_unit", "sample_interval_seconds", "backfilled", "source",
    "received_at",
)  # fmt: skip


def day_start(days_ago: int) -> datetime:
    """Midnight UTC `days_ago` days back (every batch is one whole past day)."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def jobs(batches: int, patients: int) -> list[tuple[int, int]]:
    """(patient index, days ago) of each batch: distinct keys throughout."""
    return [(i % patients, 1 + i // patients) for i in range(batches)]


def batch_values(seed: int) -> list[float]:
    """288 plausible mg/dL values."""
    rng = random.Random(seed)
    return [round(rng.uniform(60, 300), 1) for _ in range(BATCH)]


async def raw_rate(url: str, batches: int, clients: int, mode: str) -> float:
    """Rows/s inserting the same shape of rows straight through asyncpg."""
    wearers = await seed_patients(url, PATIENTS, prefix=f"raw{mode}", tokens=False)
    pool = await asyncpg.create_pool(plain(url), min_size=clients, max_size=clients)
    now = datetime.now(UTC)
    work = jobs(batches, PATIENTS)

    def rows(job: tuple[int, int], seed: int) -> list[tuple[object, ...]]:
        who = wearers[job[0]]
        start = day_start(job[1])
        return [
            (who.device_id, "cgm", start + timedelta(minutes=5 * i), who.patient_id, 480, v,
             v, "mg/dL", 300, True, "app", now)
            for i, v in enumerate(batch_values(seed))
        ]  # fmt: skip

    prepared = [rows(job, n) for n, job in enumerate(work)]
    types = (
        "uuid[], text[], timestamptz[], uuid[], int2[], float8[], float8[], text[], int4[], "
        "bool[], text[], timestamptz[]"
    )
    unnest = (
        f"INSERT INTO readings ({', '.join(COLUMNS)}) SELECT * FROM unnest("
        + ", ".join(f"${i + 1}::{t}" for i, t in enumerate(types.split(", ")))
        + ") ON CONFLICT DO NOTHING RETURNING device_id, kind, measured_at"
    )
    queue = list(range(len(prepared)))

    async def client() -> None:
        async with pool.acquire() as connection:
            while queue:
                batch = prepared[queue.pop()]
                async with connection.transaction():
                    if mode == "copy":
                        await connection.copy_records_to_table(
                            "readings", records=batch, columns=COLUMNS
                        )
                    else:
                        await connection.fetch(unnest, *map(list, zip(*batch, strict=True)))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return len(prepared) * BATCH / elapsed


def http_rate(base: str, wearers: list[Wearer], seconds: int, clients: int) -> dict[str, int]:
    """POST /api/v1/readings for `seconds` from wrk (as asyncpg's client costs the raw rates
    little); wrk's figures. A wearer without a token (the bare endpoint's) sends "Bearer -"."""
    today = int(day_start(0).timestamp())
    script = Path(__file__).with_name("readings_ingest.lua")
    return run_wrk_script(base, script, wearers, clients, seconds, str(today), str(DAYS))


async def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--batches", type=int, default=1200, help="per raw measurement")
    parser.add_argument("--seconds", type=int, default=30, help="of HTTP load")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian/Ubuntu: apt-get install wrk)")
    async with bench_database(args.server, "cc_bench_ingest") as url:
        copy = await raw_rate(url, args.batches, args.clients, "copy")
        unnest = await raw_rate(url, args.batches, args.clients, "unnest")
        wearers = await seed_patients(url, HTTP_WEARERS, prefix="http")
        with uvicorn_server(url, args.workers) as base:
            wrk = await asyncio.to_thread(http_rate, base, wearers, args.seconds, args.clients)
        stored = await stored_readings(url, "http")
        # The reference point: a bare HTTP + COPY endpoint on wearers of its own.
        quick_wearers = await seed_patients(url, HTTP_WEARERS, prefix="quick", tokens=False)
        with uvicorn_server(url, args.workers, ("bench.readings_quick_app:app",)) as base:
            quick = await asyncio.to_thread(
                http_rate, base, quick_wearers, args.seconds, args.clients
            )
    sent = wrk["requests"] * BATCH
    http = sent / (wrk["duration_us"] / 1e6)
    print(f"raw: {args.batches} batches of {BATCH} per way, {args.clients} clients")
    print(f"raw asyncpg COPY:           {copy:10,.0f} rows/s")
    print(f"raw asyncpg unnest INSERT:  {unnest:10,.0f} rows/s")
    print(
        f"HTTP, {args.workers} uvicorn workers:     {http:10,.0f} readings/s "
        f"({wrk['requests']} batches in {wrk['duration_us'] / 1e6:.1f} s, {args.clients} "
        f"connections; p50 {wrk['p50_us'] / 1000:.1f} ms, p99 {wrk['p99_us'] / 1000:.1f} ms)"
    )
    print(f"HTTP / COPY: {100 * http / copy:.0f}%   HTTP / unnest: {100 * http / unnest:.0f}%")
    bare = quick["requests"] * BATCH / (quick["duration_us"] / 1e6)
    print(
        f"bare HTTP + COPY endpoint (bench/readings_quick_app.py, no rules): {bare:10,.0f} "
        f"readings/s = {100 * bare / copy:.0f}% of COPY; the service does "
        f"{100 * http / bare:.0f}% of it"
    )
    errors = wrk["status_errors"] + wrk["socket_errors"] + quick["status_errors"]
    print(f"errors: {errors}; readings stored by HTTP: {stored} (answered: {sent})")
    assert errors == 0, "every request of the bench is valid"
    assert wrk["requests"] <= HTTP_WEARERS * DAYS, "keys repeated: raise HTTP_WEARERS"
    # Requests cut off by the end of the run may still have landed; none answered may be lost.
    assert stored >= sent, "every answered reading is stored"


async def stored_readings(url: str, prefix: str) -> int:
    """Readings of the wearers seeded with `prefix`."""
    connection = await asyncpg.connect(plain(url))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM readings r JOIN patients p ON p.id = r.patient_id "
                "WHERE p.name LIKE $1",
                f"{prefix}%",
            )
        )
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
