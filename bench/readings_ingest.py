"""Ingestion bench: readings/s through HTTP (batches of 288, concurrent clients, 2 uvicorn
workers, PostgreSQL) against the raw asyncpg insert rate of the same rows in the same run.

    .venv/bin/python bench/readings_ingest.py [--server URL] [--batches 1200] [--clients 16]

Creates a database, seeds patients with CGMs and tokens, measures raw asyncpg COPY and the
app's own unnest INSERT on fresh keys, then the full HTTP path (token check, device lookup,
per-item validation, bulk insert, latest values, alert rules, audit, commit), and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from bench.readings_setup import (
    DEFAULT_SERVER,
    bench_database,
    plain,
    seed_patients,
    uvicorn_server,
)

BATCH = 288  # one day of 5-minute CGM readings
PATIENTS = 64
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


async def http_rate(base: str, url: str, batches: int, clients: int) -> tuple[float, int]:
    """Readings/s through POST /api/v1/readings; and how many were accepted."""
    wearers = await seed_patients(url, PATIENTS, prefix="http")
    bodies = []
    for n, (index, days_ago) in enumerate(jobs(batches, PATIENTS)):
        who, start = wearers[index], day_start(days_ago)
        items = [
            {"kind": "cgm", "device_id": str(who.device_id),
             "measured_at": (start + timedelta(minutes=5 * i)).isoformat(),
             "utc_offset_minutes": 480, "value": v, "unit": "mg/dL"}
            for i, v in enumerate(batch_values(n))
        ]  # fmt: skip
        headers = {"Authorization": f"Bearer {who.token}", "content-type": "application/json"}
        bodies.append((json.dumps({"items": items}).encode(), headers))
    queue = list(range(len(bodies)))
    accepted = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:

        async def client() -> None:
            nonlocal accepted
            while queue:
                content, headers = bodies[queue.pop()]
                response = await http.post("/api/v1/readings", content=content, headers=headers)
                response.raise_for_status()
                accepted += response.json()["accepted"]

        await http.get("/healthz")
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return len(bodies) * BATCH / elapsed, accepted


async def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--batches", type=int, default=1200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    async with bench_database(args.server, "cc_bench_ingest") as url:
        copy = await raw_rate(url, args.batches, args.clients, "copy")
        unnest = await raw_rate(url, args.batches, args.clients, "unnest")
        with uvicorn_server(url, args.workers) as base:
            http, accepted = await http_rate(base, url, args.batches, args.clients)
    rows = args.batches * BATCH
    print(f"rows per run: {rows} ({args.batches} batches of {BATCH}), {args.clients} clients")
    print(f"raw asyncpg COPY:           {copy:10,.0f} rows/s")
    print(f"raw asyncpg unnest INSERT:  {unnest:10,.0f} rows/s")
    print(
        f"HTTP, {args.workers} uvicorn workers:     {http:10,.0f} readings/s ({accepted} accepted)"
    )
    print(f"HTTP / COPY: {100 * http / copy:.0f}%   HTTP / unnest: {100 * http / unnest:.0f}%")
    assert accepted == rows, "every reading of the bench is new and valid"


if __name__ == "__main__":
    asyncio.run(main())
