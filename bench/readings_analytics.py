"""Analytics bench (PostgreSQL): a 14-day CGM summary + AGP over 20,160 one-minute readings, and
the doctor's panel of 200 patients, at one or more sizes of the readings table.

    .venv/bin/python -m bench.readings_analytics [--server URL] [--total 1000000,10000000,50000000]
        [--requests 30]

Creates a database, generates readings with SQL generate_series (50 M rows take several
minutes), and at each size (the table grown to it, then VACUUM ANALYZE) measures both requests
through HTTP against a real uvicorn worker; drops the database at the end. The panel is measured
twice: with rollups already current (the reading worker keeps them so) and with all 200
patients' rollups stale (its worst case). Several sizes show whether a request's cost grows
with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg
import httpx

from bench.readings_setup import (
    DEFAULT_SERVER,
    bench_database,
    plain,
    seed_patients,
    uvicorn_server,
)

PANEL_PATIENTS = 200
DAY = 288  # 5-minute readings a day

# One patient, 14 days of one-minute CGM readings ending now.
ONE_MINUTE = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      sample_interval_seconds, backfilled, source, received_at)
SELECT $1, 'cgm', date_trunc('minute', now()) - make_interval(mins => i), $2, 480,
       140 + 60 * sin(i / 180.0) + (random() - 0.5) * 20, 60, false, 'app', now()
FROM generate_series(0, 20159) i
"""
# The doctor's patients: 14 days of 5-minute readings each, plus a few BP readings.
PANEL_CGM = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      sample_interval_seconds, backfilled, source, received_at)
SELECT d.id, 'cgm', date_trunc('minute', now()) - make_interval(mins => 5 * i), d.patient_id,
       480, 150 + 70 * sin(i / 40.0 + hashtext(d.id::text) % 7) + (random() - 0.5) * 30, 300,
       false, 'app', now()
FROM devices d, generate_series(0, 14 * 288 - 1) i
WHERE d.patient_id = ANY($1::uuid[])
"""
PANEL_BP = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value, value2,
                      backfilled, source, received_at)
SELECT d.id, 'bp', now() - make_interval(hours => 12 * i), d.patient_id, 480,
       125 + random() * 40, 75 + random() * 25, false, 'app', now()
FROM devices d, generate_series(0, 27) i
WHERE d.patient_id = ANY($1::uuid[])
"""
# Everyone else: 5-minute readings over months, written a patient-range at a time.
FILLER = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      sample_interval_seconds, backfilled, source, received_at)
SELECT d.id, 'cgm', $6::timestamptz - make_interval(mins => 5 * ($5 + i)), d.patient_id, 480,
       150 + (random() - 0.5) * 120, 300, true, 'app', now()
FROM (SELECT id, patient_id FROM devices WHERE serial LIKE 'BENCH-%' AND patient_id <> ALL($1)
      ORDER BY id OFFSET $2 LIMIT $3) d,
     generate_series(0, $4 - 1) i
"""
STALE = """
INSERT INTO reading_latest (patient_id, kind, measured_at, utc_offset_minutes, value, stale_from,
                            version)
SELECT patient_id, 'cgm', max(measured_at), 480, 100, (now() - interval '15 days')::date, 1
FROM readings WHERE patient_id = ANY($1::uuid[]) AND kind = 'cgm' GROUP BY patient_id
ON CONFLICT (patient_id, kind) DO UPDATE SET stale_from = excluded.stale_from, version = 2
"""


def figures(samples: list[float]) -> str:
    """p50 / p95 / max in ms."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   max {ordered[-1]:6.1f} ms"
    )


async def timed_get(http: httpx.AsyncClient, path: str, token: str, count: int) -> list[float]:
    """Latencies of `count` sequential GETs (after one warm-up)."""
    headers = {"Authorization": f"Bearer {token}"}
    (await http.get(path, headers=headers)).raise_for_status()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await http.get(path, headers=headers)
        samples.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
    return samples


async def doctor_with_patients(url: str, patient_ids: list) -> str:
    """A doctor caring for these patients; their access token."""
    from app.auth import service as auth_service
    from app.db import create_engine, create_sessionmaker
    from app.models import Account
    from bench.readings_setup import bench_settings

    connection = await asyncpg.connect(plain(url))
    try:
        await connection.execute(
            "INSERT INTO districts (code, name_zh, name_en, is_county, is_mountainous) "
            "VALUES ('140302', '城区', 'Chengqu', false, false) ON CONFLICT DO NOTHING"
        )
        institution = await connection.fetchval(
            "INSERT INTO institutions (id, code, name_zh, name_en, level, district_code, "
            "is_designated, is_online_pilot, created_at) VALUES (gen_random_uuid(), 'HB1', "
            "'医院', 'Hospital', 'tertiary', '140302', true, true, now()) RETURNING id"
        )
        account = await connection.fetchval(
            "INSERT INTO accounts (id, role, display_name, username, password_hash, is_active, "
            "created_at) VALUES (gen_random_uuid(), 'doctor', '张医生', 'bench.dr', 'x', true, "
            "now()) RETURNING id"
        )
        doctor = await connection.fetchval(
            "INSERT INTO doctors (id, account_id, institution_id, name, department_zh, title_zh, "
            "specialties, max_active_patients, created_at) VALUES (gen_random_uuid(), $1, $2, "
            "'张医生', '内分泌科', '主任医师', '[\"M01600\"]', 300, now()) RETURNING id",
            account,
            institution,
        )
        await connection.execute(
            "INSERT INTO care_relationships (id, patient_id, doctor_id, institution_id, kind, "
            "started_at, created_at) SELECT gen_random_uuid(), p, $1, $2, "
            "CASE WHEN n = 1 THEN 'primary' ELSE 'team' END, now() - interval '60 days', now() "
            "FROM unnest($3::uuid[]) WITH ORDINALITY AS t(p, n)",
            doctor,
            institution,
            patient_ids,
        )
    finally:
        await connection.close()
    settings = bench_settings(url)
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session:
        row = await session.get(Account, account)
        assert row is not None
        token = (await auth_service.start_session(session, settings, row, "bench")).access_token
        await session.commit()
    await engine.dispose()
    return token


async def measure(url: str, minute_patient, panel_ids: list, token: str, requests: int) -> str:
    """The summary and the panel (current, then all stale) against one fresh uvicorn worker."""
    with uvicorn_server(url, 1) as base:
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:
            summary = await timed_get(
                http,
                f"/api/v1/patients/{minute_patient.patient_id}/cgm-summary",
                minute_patient.token,
                requests,
            )
            # Readings written by SQL bypass ingestion: mark the panel's rollups stale as
            # ingestion would, so the first panel call computes all 200 of them.
            connection = await asyncpg.connect(plain(url))
            await connection.execute(STALE, panel_ids)
            await connection.close()
            started = time.perf_counter()
            first = await http.get("/api/v1/panel", headers={"Authorization": f"Bearer {token}"})
            stale_ms = 1000 * (time.perf_counter() - started)
            first.raise_for_status()
            current = await timed_get(http, "/api/v1/panel", token, requests)
            patients = len(first.json()["items"])
    return (
        f"14-day CGM summary + AGP, 20,160 one-minute readings: {figures(summary)}\n"
        f"doctor's panel, {patients} patients, rollups current: {figures(current)}\n"
        f"doctor's panel, all {patients} patients' rollups stale (first call): {stale_ms:.0f} ms"
    )


async def main() -> None:
    """Run the bench and print its figures, one block per size."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument(
        "--total",
        default="50000000",
        help="readings in the table at each measurement, comma-separated, ascending",
    )
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--filler-patients", type=int, default=2_000)
    args = parser.parse_args()
    totals = sorted(int(t) for t in args.total.split(","))
    async with bench_database(args.server, "cc_bench_analytics") as url:
        minute_patient = (await seed_patients(url, 1, prefix="minute", interval=60))[0]
        panel = await seed_patients(url, PANEL_PATIENTS, prefix="panel", tokens=False)
        filler = await seed_patients(url, args.filler_patients, prefix="filler", tokens=False)
        panel_ids = [w.patient_id for w in panel]
        connection = await asyncpg.connect(plain(url))
        await connection.execute(ONE_MINUTE, minute_patient.device_id, minute_patient.patient_id)
        await connection.execute(PANEL_CGM, panel_ids)
        await connection.execute(PANEL_BP, panel_ids)
        # One time the filler counts back from at every size (now() moves on between sizes).
        anchor = await connection.fetchval(
            "SELECT date_trunc('minute', now()) - interval '15 days'"
        )
        await connection.close()
        token = await doctor_with_patients(url, panel_ids)
        written = 0  # filler readings per filler patient so far (each size adds older ones)
        for total in totals:
            connection = await asyncpg.connect(plain(url))
            started = time.perf_counter()
            have = await connection.fetchval("SELECT count(*) FROM readings")
            per_patient = max(0, (total - have) // len(filler))
            step = 100
            for offset in range(0, len(filler), step):
                await connection.execute(
                    FILLER, panel_ids, offset, step, per_patient, written, anchor
                )
            written += per_patient
            # As autovacuum would by then: index-only scans need the visibility map.
            await connection.execute("VACUUM ANALYZE readings")
            count = await connection.fetchval("SELECT count(*) FROM readings")
            generated = time.perf_counter() - started
            size = await connection.fetchval(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass"
            )
            await connection.close()
            print(f"readings in the table: {count:,} ({size} with indexes)", flush=True)
            print(f"grown to it in {generated:.0f} s; load {loadavg()}", flush=True)
            print(await measure(url, minute_patient, panel_ids, token, args.requests), flush=True)


def loadavg() -> str:
    """The machine's 1/5/15-minute load averages (the figures depend on what else runs)."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


if __name__ == "__main__":
    asyncio.run(main())
