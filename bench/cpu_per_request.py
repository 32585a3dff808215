"""CPU per request, by endpoint: the service's processes and its PostgreSQL backends, next to a
bare FastAPI + asyncpg endpoint that INSERTs the same rows, in the same run.

    .venv/bin/python -m bench.cpu_per_request [--seconds 20] [--rate 100] [--workers 2]

Creates a database; for each endpoint seeds patients of its own (a CGM sampling every minute,
or a BP cuff) and has `wrk` (C, 4 connections, each pausing between requests so the rate is
about `--rate`/s) send phones' uploads of 1, 2 or 3 CGM readings or one BP reading, every
upload new and live (inside the last 15 minutes, so alert rules run); then GETs the CGM summary
of the patients who uploaded. Each wearer has a reading stored a minute before its first upload
(a phone uploading every few minutes always has one), so uploads take the service's steady-state
path: the stored neighbours are read for the density check and the rows go in by one
`INSERT ... ON CONFLICT` statement that also moves the latest values on. Around each run the
bench reads the CPU time (utime + stime, /proc/<pid>/stat) of the uvicorn process tree and of
the PostgreSQL backends connected to the bench database, and divides the deltas by the
requests answered. The same uploads then go to `bench/readings_quick_app.py`'s small-batch
route (json.loads, one multi-row INSERT, no sign-in, checks, duplicates, latest values, alerts
or audit). PostgreSQL's background
processes (WAL writer, checkpointer) are not counted for either.

Cores needed at the pilot = CPU per request x the endpoint's rate: 30,000 online patients whose
phones upload every 5 minutes are 100 uploads/s (the issue's figure; BP is a few readings a day
per hypertensive patient, far less - its row shows the cost at the same 100/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
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

WEARERS = 500  # per endpoint: every upload of a run new, all inside the live window
CONNECTIONS = 4
LIVE_SECONDS = 13 * 60  # the first reading's age at the start of a run (live window: 15 min)
PILOT_UPLOADS_PER_SECOND = 100  # 30,000 patients, one upload per 5 minutes
TICK = os.sysconf("SC_CLK_TCK")
UPLOADS = ("cgm1", "cgm2", "cgm3", "bp1")

BIND_BP = """
INSERT INTO devices (id, patient_id, kind, model, serial, unit, source, bound_at, created_at)
SELECT gen_random_uuid(), p, 'bp', 'Bench cuff', 'BENCH-BP-' || p::text, 'mmHg', 'app',
       now() - interval '200 days', now()
FROM unnest($1::uuid[]) p
RETURNING id, patient_id
"""


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    """utime + stime of each live process, in seconds."""
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return seconds


def process_tree(root: int) -> set[int]:
    """`root` and all its descendants (uvicorn's supervisor and its workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):  # exited meanwhile
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree = {root}
    grew = True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree


async def backends(url: str) -> set[int]:
    """PostgreSQL backends connected to the bench database (its pools)."""
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return {row["pid"] for row in rows}


PRIME = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      value2, original_value, original_unit, sample_interval_seconds, backfilled,
                      source, received_at)
SELECT d, $3::text, $4, p, 480, 120, CASE WHEN $3::text = 'bp' THEN 80 END, 120, $5,
       CASE WHEN $3::text = 'cgm' THEN 60 END, false, 'app', now()
FROM unnest($1::uuid[], $2::uuid[]) AS t(d, p)
"""


async def prime(url: str, wearers: list[Wearer], mode: str, start: int) -> None:
    """A stored reading a minute before each wearer's first upload, as a phone that uploads
    every few minutes has: every upload of the run then finds a neighbour in its span (the
    pilot's steady state), not only the wearers' second and later ones."""
    bp = mode == "bp1"
    connection = await asyncpg.connect(plain(url))
    try:
        await connection.execute(
            PRIME,
            [w.device_id for w in wearers],
            [w.patient_id for w in wearers],
            "bp" if bp else "cgm",
            datetime.fromtimestamp(start - 60, UTC),
            "mmHg" if bp else "mg/dL",
        )
    finally:
        await connection.close()


def run_wrk(
    base: str, wearers: list[Wearer], mode: str, path: str, seconds: int, rate: int, start: int
) -> dict[str, int]:
    """wrk's figures for `seconds` of `mode` requests to `path` at about `rate`/s, the uploads'
    readings from `start` (UTC epoch seconds) on."""
    pause = max(1, CONNECTIONS * 1000 // rate)
    script = Path(__file__).with_suffix(".lua")
    return run_wrk_script(
        base, script, wearers, CONNECTIONS, seconds, mode, str(start), str(pause), path
    )


@dataclass(frozen=True)
class Measured:
    """One endpoint's run: requests answered, rate, CPU ms per request, latency."""

    requests: int
    rate: float
    app_ms: float
    pg_ms: float
    p50_ms: float
    p99_ms: float

    @property
    def total_ms(self) -> float:
        return self.app_ms + self.pg_ms


async def measure(
    url: str, base: str, server_pid: int, wearers: list[Wearer], mode: str, path: str,
    seconds: int, rate: int,
) -> Measured:  # fmt: skip
    """CPU of the server's processes and the database's backends over one wrk run."""
    start = int(time.time()) - LIVE_SECONDS
    if mode != "get":
        await prime(url, wearers, mode, start)
    app_pids = process_tree(server_pid)
    pg_pids = await backends(url)
    app_before, pg_before = cpu_seconds(app_pids), cpu_seconds(pg_pids)
    figures = await asyncio.to_thread(run_wrk, base, wearers, mode, path, seconds, rate, start)
    pg_pids |= await backends(url)
    app_after, pg_after = cpu_seconds(app_pids), cpu_seconds(pg_pids)
    errors = figures["status_errors"] + figures["socket_errors"]
    assert errors == 0, f"{mode} {path}: {errors} errors"
    requests = figures["requests"]

    def per_request(after: dict[int, float], before: dict[int, float]) -> float:
        return 1000 * sum(t - before.get(pid, 0.0) for pid, t in after.items()) / requests

    return Measured(
        requests,
        requests / (figures["duration_us"] / 1e6),
        per_request(app_after, app_before),
        per_request(pg_after, pg_before),
        figures["p50_us"] / 1000,
        figures["p99_us"] / 1000,
    )


async def bind_bp(url: str, wearers: list[Wearer]) -> list[Wearer]:
    """The wearers with a BP cuff bound, as the device their uploads name."""
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch(BIND_BP, [w.patient_id for w in wearers])
    finally:
        await connection.close()
    cuffs = {row["patient_id"]: row["id"] for row in rows}
    return [replace(w, device_id=cuffs[w.patient_id]) for w in wearers]


async def group(url: str, prefix: str, mode: str, tokens: bool) -> list[Wearer]:
    """Patients of one endpoint's run (with a CGM sampling every minute, and a cuff for BP)."""
    wearers = await seed_patients(url, WEARERS, prefix=prefix, interval=60, tokens=tokens)
    return await bind_bp(url, wearers) if mode == "bp1" else wearers


def server_pid(base: str) -> int:
    """The pid of the uvicorn supervisor listening on `base`'s port."""
    port = base.rsplit(":", 1)[1]
    output = subprocess.run(
        ["ss", "-Hltnp", f"sport = :{port}"], check=True, capture_output=True, text=True
    ).stdout
    # users:(("python",pid=123,fd=5),...): the lowest pid is the supervisor that bound it.
    pids = [int(part.split(",")[0]) for part in output.split("pid=")[1:]]
    return min(pids)


async def main() -> None:
    """Run the bench and print its table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--seconds", type=int, default=20, help="per endpoint")
    parser.add_argument("--rate", type=int, default=100, help="requests/s to aim at")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, Measured] = {}
    bare: dict[str, Measured] = {}
    async with bench_database(args.server, "cc_bench_cpu") as url:
        groups = {mode: await group(url, f"svc{mode}", mode, True) for mode in UPLOADS}
        warm = await group(url, "svcwarm", "cgm1", True)
        with uvicorn_server(url, args.workers) as base:
            pid = server_pid(base)
            await measure(url, base, pid, warm, "cgm1", "/api/v1/readings", 3, args.rate)
            for mode in UPLOADS:
                results[mode] = await measure(
                    url, base, pid, groups[mode], mode, "/api/v1/readings", args.seconds,
                    args.rate,
                )  # fmt: skip
            results["cgm-summary"] = await measure(
                url, base, pid, groups["cgm3"], "get", "/api/v1/patients/@PATIENT@/cgm-summary",
                args.seconds, args.rate,
            )  # fmt: skip
        bare_groups = {mode: await group(url, f"bare{mode}", mode, False) for mode in UPLOADS}
        bare_warm = await group(url, "barewarm", "cgm1", False)
        quick = ("bench.readings_quick_app:app",)
        with uvicorn_server(url, args.workers, quick) as base:
            pid = server_pid(base)
            path = "/api/v1/readings/small"
            await measure(url, base, pid, bare_warm, "cgm1", path, 3, args.rate)
            for mode in UPLOADS:
                bare[mode] = await measure(
                    url, base, pid, bare_groups[mode], mode, path, args.seconds, args.rate
                )
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{args.workers} uvicorn workers, {CONNECTIONS} wrk connections aiming at {args.rate}/s, "
        f"{args.seconds} s per endpoint; load average {load}"
    )
    print(
        "| endpoint | requests | rate/s | service CPU ms | PostgreSQL CPU ms | total ms | "
        "bare total ms (app + PG) | service / bare | cores at 100/s | p50 / p99 ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for mode, m in results.items():
        reference = bare.get(mode)
        versus = (
            f"{reference.total_ms:.2f} ({reference.app_ms:.2f} + {reference.pg_ms:.2f})"
            if reference
            else ""
        )
        ratio = f"{m.total_ms / reference.total_ms:.2f}x" if reference else ""
        cores = m.total_ms * PILOT_UPLOADS_PER_SECOND / 1000
        print(
            f"| {mode} | {m.requests} | {m.rate:.0f} | {m.app_ms:.2f} | {m.pg_ms:.2f} | "
            f"{m.total_ms:.2f} | {versus} | {ratio} | {cores:.2f} | "
            f"{m.p50_ms:.1f} / {m.p99_ms:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
