"""Assignment bench: one request's latency with 75,000 patients and 1,000 doctors in the
database, and 100 concurrent assignments without a capacity breach (PostgreSQL).

    .venv/bin/python bench/assignment.py [--server postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
                                         [--requests 500] [--http-requests 300]

Creates a database, migrates it, generates the data with SQL, measures the engine end to end
(patient lock, candidates, scoring, doctor lock and exact count, relationship, decision,
audit, commit) through the service layer, checks capacity; then times the whole HTTP request
(`POST /api/v1/online-care/start` on 2 uvicorn workers: sign-in check, the assignment, and the
care conversation opened with its system notice and pushes), and drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from app.assignment import service as assignment_service
from app.auth import service as auth_service
from app.authz.principal import Principal
from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker, unit_of_work
from app.errors import Conflict
from app.health.migrations_state import alembic_config
from app.kit.gc_tuning import serving_gc
from app.models import Account, Role
from bench.readings_setup import uvicorn_server

PATIENTS = 75_000
DOCTORS = 1_000
ASSIGNED = 60_000  # patients who already have a receiving doctor
CONCURRENT = 100

GENERATE = [
    """INSERT INTO districts (code, name_zh, name_en, is_county, is_mountainous)
       VALUES ('140302', '城区', 'Chengqu', false, false)""",
    """INSERT INTO institutions (id, code, name_zh, name_en, level, district_code, is_designated,
                                 is_online_pilot, created_at)
       SELECT gen_random_uuid(), 'H' || i, '医院' || i, 'Hospital ' || i,
              CASE WHEN i <= 3 THEN 'tertiary' ELSE 'secondary' END, '140302', true, i = 1, now()
       FROM generate_series(1, 15) i""",
    """INSERT INTO disease_categories (code, name_zh, name_en)
       VALUES ('M016', '糖尿病', 'Diabetes mellitus'), ('M039', '高血压', 'Hypertension')""",
    """INSERT INTO chronic_diseases (id, code, national_code, category_code, name_zh, name_en,
                                     online_admitted, created_at)
       VALUES (gen_random_uuid(), 'M01603', 'M01600', 'M016', '糖尿病伴并发症', 'DM', true,
               now()),
              (gen_random_uuid(), 'M03902', 'M03900', 'M039', '高血压三级', 'HTN', true,
               now())""",
    """INSERT INTO catalogue_editions (id, effective_from, note, created_at)
       VALUES (gen_random_uuid(), DATE '2020-01-01', 'bench', now())""",
    """INSERT INTO catalogue_entries (edition_id, disease_id, online_admitted)
       SELECT e.id, d.id, true FROM catalogue_editions e, chronic_diseases d""",
    """INSERT INTO catalogue_limits (edition_id, disease_id, insurance_type, annual_limit_fen)
       SELECT e.id, d.id, t, 500000 FROM catalogue_editions e, chronic_diseases d,
              unnest(ARRAY['310', '390']) t""",
    f"""INSERT INTO accounts (id, role, display_name, username, password_hash, is_active,
                            created_at)
        SELECT gen_random_uuid(), 'doctor', 'dr' || i, 'bench.dr.' || i, 'x', true, now()
        FROM generate_series(1, {DOCTORS}) i""",
    """INSERT INTO doctors (id, account_id, institution_id, name, department_zh, title_zh,
                            specialties, max_active_patients, created_at)
       SELECT gen_random_uuid(), a.id,
              (SELECT id FROM institutions ORDER BY code OFFSET (n % 15) LIMIT 1),
              a.display_name, '内分泌科', '主治医师',
              CASE n % 3 WHEN 0 THEN '["M01600"]'::jsonb WHEN 1 THEN '["M03900"]'::jsonb
                         ELSE '["M01600", "M03900"]'::jsonb END,
              100, now()
       FROM (SELECT id, display_name, row_number() OVER (ORDER BY id) n
             FROM accounts WHERE role = 'doctor') a""",
    """INSERT INTO doctor_presence (doctor_id, status, expires_at, updated_at)
       SELECT id, (ARRAY['online', 'busy', 'offline'])[1 + (abs(hashtext(id::text)) % 3)],
              now() + interval '1 day', now() FROM doctors""",
    f"""INSERT INTO accounts (id, role, display_name, wechat_openid, is_active, created_at)
        SELECT gen_random_uuid(), 'patient', 'p' || i, 'bench-openid-' || i, true, now()
        FROM generate_series(1, {PATIENTS}) i""",
    """INSERT INTO patients (id, account_id, name, gender, insurance_type, timezone, created_at)
       SELECT gen_random_uuid(), id, display_name, 'unknown',
              CASE WHEN random() < 0.5 THEN '310' ELSE '390' END, 'Asia/Shanghai', now()
       FROM accounts WHERE role = 'patient'""",
    """INSERT INTO enrollment_applications (id, patient_id, disease_id, institution_id, status,
                                            submitted_at, decided_at, created_at)
       SELECT gen_random_uuid(), p.id,
              (SELECT id FROM chronic_diseases ORDER BY code
               OFFSET (abs(hashtext(p.id::text)) % 2) LIMIT 1),
              (SELECT id FROM institutions WHERE code = 'H1'), 'approved', now(), now(), now()
       FROM patients p""",
    """INSERT INTO entitlements (id, patient_id, disease_id, institution_id, application_id,
                                 valid_from, valid_until, created_at)
       SELECT gen_random_uuid(), patient_id, disease_id, institution_id, id,
              current_date - 30, current_date + 335, now()
       FROM enrollment_applications""",
    # 60,000 patients already in care, 60 per doctor (capacity 100 each).
    f"""INSERT INTO care_relationships (id, patient_id, doctor_id, institution_id, kind,
                                        started_at, created_at)
        SELECT gen_random_uuid(), x.patient_id, d.id, d.institution_id, 'primary',
               now() - interval '90 days', now()
        FROM (SELECT p.id patient_id, row_number() OVER (ORDER BY p.id) n
              FROM patients p ORDER BY p.id LIMIT {ASSIGNED}) x
        JOIN (SELECT id, institution_id, row_number() OVER (ORDER BY id) - 1 k FROM doctors) d
          ON d.k = x.n % {DOCTORS}""",
    """INSERT INTO doctor_loads (doctor_id, active_patients, waiting_consultations)
       SELECT d.id, count(c.id), 0 FROM doctors d
       LEFT JOIN care_relationships c ON c.doctor_id = d.id AND c.ended_at IS NULL
       GROUP BY d.id""",
    "ANALYZE",
]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _create(server: str) -> str:
    name = f"cc_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(_dsn(server))
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    config = alembic_config(url)
    config.attributes["configure_logging"] = False
    await asyncio.to_thread(command.upgrade, config, "heads")
    return url


async def _drop(server: str, url: str) -> None:
    connection = await asyncpg.connect(_dsn(server))
    await connection.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    await connection.close()


async def _free_patients(url: str, count: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    connection = await asyncpg.connect(_dsn(url))
    rows = await connection.fetch(
        """SELECT p.id, p.account_id FROM patients p
           WHERE NOT EXISTS (SELECT 1 FROM care_relationships c WHERE c.patient_id = p.id)
           ORDER BY p.id LIMIT $1""",
        count,
    )
    await connection.close()
    return [(r["id"], r["account_id"]) for r in rows]


def _quantiles(timings: list[float]) -> str:
    timings = sorted(timings)
    quantiles = statistics.quantiles(timings, n=100)
    return (
        f"p50 {quantiles[49]:.2f} ms, p90 {quantiles[89]:.2f} ms, p99 {quantiles[98]:.2f} ms, "
        f"max {timings[-1]:.2f} ms"
    )


async def _http_timings(
    url: str,
    settings: Settings,
    patients: list[tuple[uuid.UUID, uuid.UUID]],
    institution_id: uuid.UUID,
) -> list[float]:
    """Each patient signs in and starts online care over HTTP, one request at a time."""
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session:
        tokens = []
        for _, account_id in patients:
            account = await session.get(Account, account_id)
            assert account is not None
            started = await auth_service.start_session(session, settings, account, "bench")
            tokens.append(started.access_token)
        await session.commit()
    await engine.dispose()
    timings = []
    body = {"institution_id": str(institution_id)}
    with uvicorn_server(url, 2) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for n, token in enumerate(tokens):
                begin = time.perf_counter()
                response = await http.post(
                    "/api/v1/online-care/start",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
                elapsed = (time.perf_counter() - begin) * 1000
                assert response.status_code == 200 and response.json()["created"], response.text
                if n >= 20:  # the first warm both workers' connections and caches
                    timings.append(elapsed)
    return timings


def _principal(patient_id: uuid.UUID, account_id: uuid.UUID) -> Principal:
    return Principal(account_id, uuid.uuid4(), Role.patient, "bench", patient_id=patient_id)


async def _assign(sessionmaker, settings, patient, institution_id) -> bool:
    try:
        async with unit_of_work(sessionmaker) as session:
            await assignment_service.start_online_care(
                session, _principal(*patient), settings, institution_id
            )
    except Conflict:
        return False
    return True


async def main(server: str, requests: int, http_requests: int) -> None:
    """Generate, measure, check, clean up."""
    url = await _create(server)
    try:
        started = time.perf_counter()
        connection = await asyncpg.connect(_dsn(url))
        for statement in GENERATE:
            await connection.execute(statement)
        institution_id = await connection.fetchval("SELECT id FROM institutions WHERE code = 'H1'")
        await connection.close()
        print(
            f"generated {PATIENTS} patients, {DOCTORS} doctors, {ASSIGNED} in care "
            f"in {time.perf_counter() - started:.1f} s"
        )
        settings = Settings(
            APP_ENV=Environment.test,
            database_url=url,
            db_pool_size=40,
            db_max_overflow=0,
            outbox_relay_enabled=False,
        )
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        in_process = 20 + requests + CONCURRENT  # warm-up, sequential, burst
        patients = await _free_patients(url, in_process + 20 + http_requests)
        patients, over_http = patients[:in_process], patients[in_process:]
        for patient in patients[:20]:  # warm-up: connections, prepared statements
            await _assign(sessionmaker, settings, patient, institution_id)
        # The collector set as a serving process has it (app/main.py).
        with serving_gc():
            timings = []
            for patient in patients[20 : 20 + requests]:
                begin = time.perf_counter()
                assert await _assign(sessionmaker, settings, patient, institution_id)
                timings.append((time.perf_counter() - begin) * 1000)
            print(f"single assignment, {requests} sequential requests: {_quantiles(timings)}")
            burst = patients[20 + requests :]
            begin = time.perf_counter()
            outcomes = await asyncio.gather(
                *(_assign(sessionmaker, settings, p, institution_id) for p in burst)
            )
            elapsed = time.perf_counter() - begin
        connection = await asyncpg.connect(_dsn(url))
        breaches = await connection.fetchval(
            """SELECT count(*) FROM (
                 SELECT d.id FROM doctors d JOIN care_relationships c ON c.doctor_id = d.id
                 WHERE c.kind = 'primary' AND c.ended_at IS NULL
                 GROUP BY d.id, d.max_active_patients HAVING count(*) > d.max_active_patients) x"""
        )
        doubles = await connection.fetchval(
            """SELECT count(*) FROM (SELECT patient_id FROM care_relationships
                 WHERE kind = 'primary' AND ended_at IS NULL
                 GROUP BY patient_id HAVING count(*) > 1) x"""
        )
        await connection.close()
        print(
            f"{len(burst)} concurrent assignments: {sum(outcomes)} assigned in {elapsed:.2f} s; "
            f"doctors over capacity: {breaches}; patients with two doctors: {doubles}"
        )
        await engine.dispose()
        if breaches or doubles:
            raise SystemExit("capacity or single-primary rule broken")
        if http_requests:
            timings = await _http_timings(url, settings, over_http, institution_id)
            print(
                f"POST /api/v1/online-care/start, {http_requests} sequential requests "
                f"(assignment + care conversation and notice): {_quantiles(timings)}"
            )
    finally:
        await _drop(server, url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="assignment bench")
    parser.add_argument("--server", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--http-requests", type=int, default=300, help="0 to skip")
    args = parser.parse_args()
    asyncio.run(main(args.server, args.requests, args.http_requests))
