"""Load-test city (PostgreSQL): a fresh database with the demo reference data and a city of
patients wearing CGMs, their doctors, chat history and pharmacy orders; writes the sign-in
details the load users need to a JSON file.

    .venv/bin/python bench/load/setup.py [--database chronic_load] [--patients 3000]
                                         [--doctors 24] [--days 3] [--out bench/load/city.json]
    .venv/bin/python bench/load/setup.py --top-up   # an existing city, brought up to now

What it builds (see bench/README.md, "Load test"):
- `python -m app.cli migrate` and `seed-demo` (districts, hospitals, stores, drugs, formulary,
  catalogue, benefit rules, the demo staff and patients);
- patients with a bound CGM each (a share with one-minute sensors, the rest five-minute) through
  `bench.readings_setup.seed_patients`, some with a BP monitor, all entitled (diabetes; BP
  wearers hypertension too) and in the primary care of one of the doctors (the four demo doctors
  plus generated ones), panels of roughly 70-180 patients at the defaults;
- `--days` of readings per patient up to now, written with SQL in one statement per 200
  patients, the latest-reading table, and the CGM day rollups computed by the app's own
  `refresh_rollups`; a few open urgent-low alerts;
- a care conversation per relationship (the app's `ensure_care_conversation`), then, through
  the real API on a temporary server (`bench/load/activity.py`), chat history for the chatting
  patients and pharmacy orders in every board state at each store.

`--top-up` keeps everything and only fills readings from the last stored one up to now and
restores each store's backlog of new orders, so a city can be reused for several runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.analytics.service import refresh_rollups  # noqa: E402
from app.auth import service as auth_service  # noqa: E402
from app.auth.passwords import hash_password  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import create_engine, create_sessionmaker  # noqa: E402
from app.demo import data as demo  # noqa: E402
from app.models import Account, Patient  # noqa: E402
from bench.load import activity  # noqa: E402
from bench.readings_setup import (  # noqa: E402
    DEFAULT_SERVER,
    bench_settings,
    plain,
    seed_patients,
    uvicorn_server,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "city.json"
CHUNK = 200  # patients per generating statement
MINTERS = 4  # connections opening patients' sign-in sessions at once
# Home districts: the chain's urban stores cover the three urban districts, one store each
# covers the two mountain counties.
DISTRICTS = (*demo.URBAN, *demo.URBAN, *demo.URBAN, demo.PINGDING, demo.YU_COUNTY)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("建国", "秀英", "志强", "桂兰", "海燕", "文博", "丽华", "永平", "晓东", "玉梅", "国庆")


@dataclass(frozen=True)
class CityPatient:
    """A simulated patient: sign-in, devices and the shape of their glucose curve."""

    openid: str
    patient_id: str
    cgm_device_id: str
    cgm_interval: int  # seconds between CGM readings
    bp_device_id: str | None
    glucose_base: float  # mg/dL around which the daily curve swings
    glucose_swing: float  # mg/dL amplitude of the daily curve
    glucose_phase: float  # radians
    systolic_base: float
    chatting: bool
    ecg_device_id: str | None = None  # a single-lead ECG patch (FHIR strips)


# Readings are a daily sine per patient plus noise (lows at night for a few patients, which
# raise urgent-low alerts when such values arrive live), in the city's local time (UTC+8).
CGM_HISTORY = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      original_value, original_unit, sample_interval_seconds, backfilled, source,
                      received_at)
SELECT p.device_id, 'cgm', t, p.patient_id, 480, v, v, 'mg/dL', p.step, false, 'app', t
FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::float8[], $5::float8[], $6::float8[])
     AS p(device_id, patient_id, step, base, swing, phase)
CROSS JOIN LATERAL generate_series(
    to_timestamp(ceil(extract(epoch FROM $7::timestamptz) / p.step) * p.step),
    $8::timestamptz, make_interval(secs => p.step)) AS t
CROSS JOIN LATERAL (SELECT round(greatest(40, least(400,
    p.base + p.swing * sin(2 * pi() * (extract(epoch FROM t) + 28800) / 86400 + p.phase)
    + (random() - 0.5) * 20))::numeric, 1)::float8 AS v) AS g
ON CONFLICT DO NOTHING
"""
# Home blood pressure twice a day, 07:00 and 19:30 local time.
BP_HISTORY = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value, value2,
                      value3, label, backfilled, source, received_at)
SELECT p.device_id, 'bp', t, p.patient_id, 480, round(p.systolic + (random() - 0.5) * 16),
       round(p.systolic * 0.62 + (random() - 0.5) * 10), round(70 + random() * 12), 'sitting',
       false, 'app', t
FROM unnest($1::uuid[], $2::uuid[], $3::float8[]) AS p(device_id, patient_id, systolic)
CROSS JOIN generate_series(date_trunc('day', $4::timestamptz AT TIME ZONE 'Asia/Shanghai'),
                           $5::timestamptz AT TIME ZONE 'Asia/Shanghai', interval '1 day') AS d
CROSS JOIN LATERAL (VALUES (d + interval '7 hours'), (d + interval '19 hours 30 minutes')) AS h(l)
CROSS JOIN LATERAL (SELECT h.l AT TIME ZONE 'Asia/Shanghai' AS t) AS m
WHERE m.t BETWEEN $4 AND $5
ON CONFLICT DO NOTHING
"""
# As ingestion does: each kind's latest reading, CGM rollups stale from the window's first day.
LATEST = """
INSERT INTO reading_latest AS current (patient_id, kind, measured_at, utc_offset_minutes, value,
                                       value2, value3, flag, stale_from, version)
SELECT DISTINCT ON (patient_id, kind) patient_id, kind, measured_at, utc_offset_minutes, value,
       value2, value3, flag,
       CASE WHEN kind = 'cgm' THEN ($2::timestamptz AT TIME ZONE 'Asia/Shanghai')::date - 1 END, 1
FROM readings WHERE patient_id = ANY($1::uuid[]) AND measured_at >= $2
ORDER BY patient_id, kind, measured_at DESC
ON CONFLICT (patient_id, kind) DO UPDATE SET
    measured_at = excluded.measured_at, utc_offset_minutes = excluded.utc_offset_minutes,
    value = excluded.value, value2 = excluded.value2, value3 = excluded.value3,
    flag = excluded.flag, version = current.version + 1,
    stale_from = least(current.stale_from, excluded.stale_from)
"""


def names(count: int, offset: int = 0) -> list[str]:
    """Distinct Chinese display names (surname + given name, numbered past 220)."""
    out = []
    for n in range(offset, offset + count):
        name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n // len(SURNAMES)) % len(GIVEN)]
        out.append(name if n < len(SURNAMES) * len(GIVEN) else f"{name}{n}")
    return out


def panel_sizes(patients: int, rooms: list[int]) -> list[int]:
    """Patients per doctor (`rooms`: each one's free capacity, largest first), spread linearly
    over a 200:75 ratio, no panel over its doctor's capacity."""
    if patients > sum(rooms):
        raise ValueError(f"{patients} patients, room for {sum(rooms)} with these doctors")
    doctors = len(rooms)
    weights = [200 - 125 * k / max(doctors - 1, 1) for k in range(doctors)]
    total = sum(weights)
    sizes = [
        min(room, math.floor(patients * w / total)) for w, room in zip(weights, rooms, strict=True)
    ]
    while left := patients - sum(sizes):
        for k in range(doctors):
            if sizes[k] < rooms[k] and left:
                sizes[k] += 1
                left -= 1
    return sizes


async def migrate_and_seed(server: str, database: str) -> str:
    """A fresh database with the schema and the demo data; its SQLAlchemy URL."""
    admin = await asyncpg.connect(plain(server))
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = make_url(server).set(database=database).render_as_string(hide_password=False)
    for step in ("migrate", "seed-demo"):
        app_cli(url, step)
    return url


def app_cli(url: str, step: str) -> None:
    """`python -m app.cli <step>` on the city's database."""
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "dev", "LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", step], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"app.cli {step} failed:\n{done.stdout}{done.stderr}")


async def add_doctors(connection: asyncpg.Connection, count: int) -> None:
    """`count` generated doctors (password: the demo password), taking turns among the
    designated institutions, the pilot hospital first."""
    password_hash = await asyncio.to_thread(hash_password, demo.DEMO_PASSWORD)
    institutions = [
        r["id"]
        for r in await connection.fetch(
            "SELECT id FROM institutions ORDER BY code <> $1, code", demo.PILOT_INSTITUTION_CODE
        )
    ]
    for n, name in enumerate(names(count, offset=40), start=1):
        institution = institutions[(n - 1) % len(institutions)]
        account = await connection.fetchval(
            "INSERT INTO accounts (id, role, display_name, username, password_hash, is_active, "
            "created_at) VALUES (gen_random_uuid(), 'doctor', $1, $2, $3, true, now()) "
            "RETURNING id",
            name, f"load.dr.{n:03d}", password_hash,
        )  # fmt: skip
        cardiology = n % 4 == 0
        await connection.execute(
            "INSERT INTO doctors (id, account_id, institution_id, name, department_zh, title_zh, "
            "specialties, max_active_patients, created_at) VALUES (gen_random_uuid(), $1, $2, "
            "$3, $4, '主治医师', $5, 300, now())",
            account, institution, name, "心血管内科" if cardiology else "内分泌科",
            '["M03900"]' if cardiology else '["M01600", "M03900"]',
        )  # fmt: skip


async def add_pharmacy_staff(connection: asyncpg.Connection) -> None:
    """A prescription reviewer at every designated institution the demo leaves without one (a
    doctor's prescriptions are reviewed at their own institution, and the generated doctors
    take turns among all of them), and a pharmacist and a courier at every store the demo
    leaves unstaffed."""
    password_hash = await asyncio.to_thread(hash_password, demo.DEMO_PASSWORD)
    await connection.execute(
        "WITH hospitals AS (SELECT id, 'load.rx.' || lower(code) AS username FROM institutions "
        "i WHERE NOT EXISTS (SELECT 1 FROM prescription_reviewers r WHERE r.institution_id = "
        "i.id)), made AS (INSERT INTO accounts (id, role, display_name, username, password_hash, "
        "is_active, created_at) SELECT gen_random_uuid(), 'pharmacist', '审方药师', username, "
        "$1, true, now() FROM hospitals RETURNING id, username) "
        "INSERT INTO prescription_reviewers (id, account_id, institution_id, created_at) "
        "SELECT gen_random_uuid(), made.id, hospitals.id, now() FROM made JOIN hospitals "
        "USING (username)",
        password_hash,
    )  # fmt: skip
    stores = await connection.fetch(
        "SELECT s.id, s.code FROM pharmacy_stores s WHERE NOT EXISTS "
        "(SELECT 1 FROM pharmacy_staff p WHERE p.store_id = s.id) ORDER BY s.code"
    )
    for n, store in enumerate(stores):
        suffix = store["code"].split("-")[-1].lower()
        for role, name in (("pharmacist", names(1, 100 + n)[0]), ("courier", names(1, 120 + n)[0])):
            account = await connection.fetchval(
                "INSERT INTO accounts (id, role, display_name, username, password_hash, "
                "is_active, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, true, now()) "
                "RETURNING id",
                role, name, f"load.{'rx' if role == 'pharmacist' else 'courier'}.{suffix}",
                password_hash,
            )  # fmt: skip
            await connection.execute(
                "INSERT INTO pharmacy_staff (id, account_id, store_id, created_at) "
                "VALUES (gen_random_uuid(), $1, $2, now())",
                account,
                store["id"],
            )


async def add_patients(url: str, count: int, one_minute_share: float) -> list[tuple]:
    """Patients with a bound CGM each: (account, patient, device, interval) per patient."""
    one_minute = round(count * one_minute_share)
    made = []
    kinds = (("load1m", one_minute, 60), ("load5m", count - one_minute, 300))
    for prefix, number, interval in kinds:
        if number:
            wearers = await seed_patients(url, number, prefix, interval, tokens=False)
            made += [(w.account_id, w.patient_id, w.device_id, interval) for w in wearers]
    return made


async def add_devices(
    connection: asyncpg.Connection, kind: str, model: str, unit: str, patients: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """A bound device of `kind` for each patient: device id by patient."""
    rows = await connection.fetch(
        "INSERT INTO devices (id, patient_id, kind, model, serial, unit, source, bound_at, "
        "created_at) SELECT gen_random_uuid(), p, $2::text, $3, "
        "'LOAD' || upper($2::text) || '-' || p, $4, 'app', now() - interval '200 days', now() "
        "FROM unnest($1::uuid[]) p "
        "RETURNING patient_id, id",
        patients, kind, model, unit,
    )  # fmt: skip
    return {r["patient_id"]: str(r["id"]) for r in rows}


async def describe_patients(
    connection: asyncpg.Connection, made: list[tuple], args: argparse.Namespace
) -> list[CityPatient]:
    """Home districts, names, BP monitors, ECG patches and glucose curves for the new
    patients."""
    rng = random.Random(args.seed)
    rng.shuffle(made)
    openids = dict(
        await connection.fetch(
            "SELECT id, wechat_openid FROM accounts WHERE id = ANY($1::uuid[])",
            [m[0] for m in made],
        )
    )
    bp_devices = await add_devices(
        connection, "bp", "Omron J760", "mmHg",
        [m[1] for m in made if rng.random() < args.bp_share],
    )  # fmt: skip
    ecg_devices = await add_devices(
        connection, "ecg", "Load ECG patch", "bpm",
        [m[1] for m in made if rng.random() < args.ecg_share],
    )  # fmt: skip
    patients = [
        CityPatient(
            openid=openids[account_id],
            patient_id=str(patient_id),
            cgm_device_id=str(device_id),
            cgm_interval=interval,
            bp_device_id=bp_devices.get(patient_id),
            glucose_base=round(rng.uniform(115, 185), 1),
            glucose_swing=round(rng.uniform(25, 75), 1),
            glucose_phase=round(rng.uniform(0, 2 * math.pi), 3),
            systolic_base=round(rng.uniform(128, 168), 1),
            chatting=n < args.chatting,
            ecg_device_id=ecg_devices.get(patient_id),
        )
        for n, (account_id, patient_id, device_id, interval) in enumerate(made)
    ]
    ids = [uuid.UUID(p.patient_id) for p in patients]
    await connection.execute(
        "UPDATE patients p SET name = x.name, district_code = x.district, "
        "insurance_type = x.insurance, gender = x.gender, birth_date = x.born "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[]) "
        "AS x(id, name, district, insurance, gender, born) WHERE p.id = x.id",
        ids,
        names(len(ids), offset=300),
        [DISTRICTS[rng.randrange(len(DISTRICTS))] for _ in ids],
        [rng.choice(("310", "390")) for _ in ids],
        [rng.choice(("male", "female")) for _ in ids],
        [date(1940 + rng.randrange(45), 1 + rng.randrange(12), 1) for _ in ids],
    )
    await connection.execute(
        "UPDATE accounts a SET display_name = p.name FROM patients p "
        "WHERE p.account_id = a.id AND p.id = ANY($1::uuid[])",
        ids,
    )
    return patients


async def entitle_and_assign(connection: asyncpg.Connection, patients: list[CityPatient]) -> None:
    """A primary doctor for every patient, and the diabetes entitlement (hypertension too for
    BP wearers) at that doctor's institution."""
    ids = [uuid.UUID(p.patient_id) for p in patients]
    hypertensive = [uuid.UUID(p.patient_id) for p in patients if p.bp_device_id]
    doctors = await connection.fetch(
        "SELECT d.id, d.institution_id, d.max_active_patients - coalesce(l.active_patients, "
        "(SELECT count(*) FROM care_relationships c WHERE c.doctor_id = d.id)) AS room "
        "FROM doctors d LEFT JOIN doctor_loads l ON l.doctor_id = d.id ORDER BY room DESC, d.id"
    )
    sizes = panel_sizes(len(ids), [d["room"] for d in doctors])
    start = 0
    for doctor, size in zip(doctors, sizes, strict=True):
        await connection.execute(
            "INSERT INTO care_relationships (id, patient_id, doctor_id, institution_id, kind, "
            "started_at, created_at) SELECT gen_random_uuid(), p, $2, $3, 'primary', "
            "now() - interval '30 days', now() FROM unnest($1::uuid[]) p",
            ids[start : start + size], doctor["id"], doctor["institution_id"],
        )  # fmt: skip
        start += size
    await connection.execute(
        "INSERT INTO doctor_loads (doctor_id, active_patients, waiting_consultations) "
        "SELECT d.id, count(c.id), 0 FROM doctors d LEFT JOIN care_relationships c "
        "ON c.doctor_id = d.id AND c.ended_at IS NULL GROUP BY d.id "
        "ON CONFLICT (doctor_id) DO UPDATE SET active_patients = excluded.active_patients"
    )
    for code, members in (("M01603", ids), ("M03902", hypertensive)):
        await connection.execute(
            """WITH applied AS (
                 INSERT INTO enrollment_applications (id, patient_id, disease_id, institution_id,
                     status, submitted_at, decided_at, catalogue_edition_id, created_at)
                 SELECT gen_random_uuid(), c.patient_id, d.id, c.institution_id, 'approved',
                        now() - interval '40 days', now() - interval '35 days', e.id, now()
                 FROM care_relationships c, chronic_diseases d,
                      (SELECT id FROM catalogue_editions ORDER BY effective_from LIMIT 1) e
                 WHERE c.patient_id = ANY($1::uuid[]) AND c.kind = 'primary'
                   AND c.ended_at IS NULL AND d.code = $2
                 RETURNING id, patient_id, disease_id, institution_id)
               INSERT INTO entitlements (id, patient_id, disease_id, institution_id,
                   application_id, valid_from, valid_until, created_at)
               SELECT gen_random_uuid(), patient_id, disease_id, institution_id, id,
                      current_date - 35, current_date + 330, now() FROM applied""",
            members, code,
        )  # fmt: skip


async def fill_readings(
    connection: asyncpg.Connection, patients: list[CityPatient], since: datetime, until: datetime
) -> int:
    """CGM and BP readings from `since` to `until` and the latest values; rows written."""
    written = 0
    for at in range(0, len(patients), CHUNK):
        chunk = patients[at : at + CHUNK]
        status = await connection.execute(
            CGM_HISTORY,
            [uuid.UUID(p.cgm_device_id) for p in chunk],
            [uuid.UUID(p.patient_id) for p in chunk],
            [p.cgm_interval for p in chunk],
            [p.glucose_base for p in chunk],
            [p.glucose_swing for p in chunk],
            [p.glucose_phase for p in chunk],
            since,
            until,
        )
        written += int(status.split()[-1])
        wearers = [p for p in chunk if p.bp_device_id]
        status = await connection.execute(
            BP_HISTORY,
            [uuid.UUID(str(p.bp_device_id)) for p in wearers],
            [uuid.UUID(p.patient_id) for p in wearers],
            [p.systolic_base for p in wearers],
            since,
            until,
        )
        written += int(status.split()[-1])
        await connection.execute(LATEST, [uuid.UUID(p.patient_id) for p in chunk], since)
    return written


async def open_alerts(connection: asyncpg.Connection, patients: list[CityPatient]) -> None:
    """Unacknowledged urgent-low alerts for the patients whose curve dips below 54 mg/dL."""
    low = [uuid.UUID(p.patient_id) for p in patients if p.glucose_base - p.glucose_swing < 54]
    await connection.execute(
        "INSERT INTO alerts (id, patient_id, rule, level, measured_at, value, created_at) "
        "SELECT gen_random_uuid(), p, 'urgent_low', 3, now() - interval '3 hours', 50, now() "
        "FROM unnest($1::uuid[]) p ON CONFLICT DO NOTHING",
        low,
    )


async def refresh_all_rollups(url: str) -> int:
    """Compute every stale CGM day rollup with the app's own code; patients refreshed."""
    settings = bench_settings(url)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    total = 0
    try:
        while True:
            async with sessionmaker() as session:
                done = await refresh_rollups(session, settings, limit=CHUNK)
                await session.commit()
            if not done:
                return total
            total += done
    finally:
        await engine.dispose()


async def open_conversations(connection: asyncpg.Connection) -> int:
    """The care conversation of every active relationship without one, with the patient and the
    doctor as participants: what the app's `ensure_care_conversation` makes for a new
    relationship, in two statements (the app's function takes ~35 ms each here); how many."""
    opened = await connection.fetch(
        "INSERT INTO chat_conversations (id, kind, care_relationship_id, patient_id, last_seq, "
        "created_at) SELECT gen_random_uuid(), 'care', c.id, c.patient_id, 0, now() "
        "FROM care_relationships c WHERE c.ended_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM chat_conversations v WHERE v.care_relationship_id = c.id) "
        "RETURNING id, care_relationship_id"
    )
    await connection.execute(
        "INSERT INTO chat_participants (conversation_id, account_id, role, read_seq, joined_at) "
        "SELECT x.id, m.account_id, m.role, 0, now() "
        "FROM unnest($1::uuid[], $2::uuid[]) AS x(id, care_id) "
        "JOIN care_relationships c ON c.id = x.care_id "
        "JOIN patients p ON p.id = c.patient_id JOIN doctors d ON d.id = c.doctor_id "
        "CROSS JOIN LATERAL (VALUES (p.account_id, 'patient'), (d.account_id, 'doctor')) "
        "AS m(account_id, role)",
        [r["id"] for r in opened],
        [r["care_relationship_id"] for r in opened],
    )
    return len(opened)


async def staff_usernames(connection: asyncpg.Connection) -> dict[str, list[str]]:
    """Doctors with patients and store pharmacists, by username."""
    doctors = await connection.fetch(
        "SELECT a.username FROM accounts a JOIN doctors d ON d.account_id = a.id "
        "WHERE EXISTS (SELECT 1 FROM care_relationships c WHERE c.doctor_id = d.id "
        "AND c.ended_at IS NULL) ORDER BY a.username"
    )
    store_staff = await connection.fetch(
        "SELECT a.role, a.username FROM accounts a JOIN pharmacy_staff s ON s.account_id = a.id "
        "WHERE a.role IN ('pharmacist', 'courier') ORDER BY a.username"
    )
    return {
        "doctors": [r["username"] for r in doctors],
        "pharmacists": [r["username"] for r in store_staff if r["role"] == "pharmacist"],
        "couriers": [r["username"] for r in store_staff if r["role"] == "courier"],
    }


async def mint_tokens(url: str, patients: list[CityPatient]) -> dict[str, list[Any]]:
    """A sign-in session and token pair for every patient, made by the app's own token service
    as a WeChat sign-in would (sign-in itself is measured by bench/sign_in_flood.py), on
    MINTERS connections at once: per patient id, [access token, refresh token, access expiry
    as a Unix time, its lifetime in seconds]. The access tokens last as long as the served
    app's own (`bench_settings` makes set-up's last a working day): phones refresh them in the
    mix."""
    lifetime = Settings.model_fields["access_token_ttl_seconds"].default
    settings = bench_settings(url).model_copy(update={"access_token_ttl_seconds": lifetime})
    engine = create_engine(settings)
    tokens: dict[str, list[Any]] = {}

    async def mint(ids: list[uuid.UUID]) -> None:
        for at in range(0, len(ids), CHUNK):
            async with create_sessionmaker(engine)() as session:
                rows = await session.execute(
                    select(Patient.id, Account)
                    .join(Account, Account.id == Patient.account_id)
                    .where(Patient.id.in_(ids[at : at + CHUNK]))
                )
                for patient_id, account in rows.all():
                    pair = await auth_service.start_session(session, settings, account, "load")
                    expires_at = time.time() + pair.expires_in
                    tokens[str(patient_id)] = [
                        pair.access_token,
                        pair.refresh_token,
                        expires_at,
                        pair.expires_in,
                    ]
                await session.commit()

    ids = [uuid.UUID(p.patient_id) for p in patients]
    try:
        await asyncio.gather(*(mint(ids[k::MINTERS]) for k in range(MINTERS)))
    finally:
        await engine.dispose()
    return tokens


def log(message: str, started: float) -> None:
    """Progress on stderr with the elapsed time."""
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)


async def build(args: argparse.Namespace) -> dict[str, Any]:
    """A new city from scratch."""
    started = time.perf_counter()
    url = await migrate_and_seed(args.server, args.database)
    log(f"migrated and seeded the demo data into {args.database}", started)
    connection = await asyncpg.connect(plain(url))
    try:
        await add_doctors(connection, args.doctors - len(demo.DOCTORS))
        await add_pharmacy_staff(connection)
        made = await add_patients(url, args.patients, args.one_minute_share)
        patients = await describe_patients(connection, made, args)
        await entitle_and_assign(connection, patients)
        log(f"{len(patients)} patients entitled and in care of {args.doctors} doctors", started)
        until = datetime.now(UTC)
        rows = await fill_readings(connection, patients, until - timedelta(days=args.days), until)
        await open_alerts(connection, patients)
        log(f"{await open_conversations(connection)} care conversations opened", started)
        await connection.execute("VACUUM ANALYZE")
        log(f"{rows:,} readings over {args.days} days", started)
        staff = await staff_usernames(connection)
    finally:
        await connection.close()
    log(f"{await refresh_all_rollups(url)} patients' CGM day rollups computed", started)
    city = {
        "database_url": url,
        "password": demo.DEMO_PASSWORD,
        **staff,
        "patients": [asdict(p) for p in patients],
    }
    # Kept before acting through the API, so a set-up stopped there can be topped up.
    await asyncio.to_thread(save, args.out, city)
    await act(url, city, args, started, history=True)
    await with_tokens(city, patients, started)
    return city


def save(out: Path, city: dict[str, Any]) -> None:
    """Write the city file."""
    out.write_text(json.dumps(city, ensure_ascii=False, indent=1), encoding="utf-8")


async def with_tokens(city: dict[str, Any], patients: list[CityPatient], started: float) -> None:
    """Fresh tokens for every patient in the city (made last, so they are new at the start)."""
    city["tokens"] = await mint_tokens(city["database_url"], patients)
    log(f"{len(city['tokens'])} patients' sign-in sessions opened", started)


async def top_up(args: argparse.Namespace, city: dict[str, Any]) -> dict[str, Any]:
    """Bring an existing city's readings up to now and refill the stores' new orders."""
    started = time.perf_counter()
    url = city["database_url"]
    app_cli(url, "migrate")  # the code may have moved on since the city was built
    patients = [CityPatient(**p) for p in city["patients"]]
    connection = await asyncpg.connect(plain(url))
    try:
        last = await connection.fetchval(
            "SELECT min(measured_at) FROM reading_latest WHERE kind = 'cgm' "
            "AND patient_id = ANY($1::uuid[])",
            [uuid.UUID(p.patient_id) for p in patients],
        )
        until = datetime.now(UTC)
        since = max(last, until - timedelta(days=args.days))
        rows = await fill_readings(connection, patients, since, until)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    log(f"{rows:,} readings added since {since:%Y-%m-%d %H:%M} UTC", started)
    log(f"{await refresh_all_rollups(url)} patients' CGM day rollups computed", started)
    await act(url, city, args, started, history=False)
    await with_tokens(city, patients, started)
    return city


async def act(
    url: str, city: dict, args: argparse.Namespace, started: float, history: bool
) -> None:
    """Chat history and pharmacy orders through the real API on a temporary server."""
    # Set-up sends many messages per doctor in a burst; the limit is not what is measured here.
    os.environ["CHAT_RATE_LIMIT_MESSAGES"] = "1000000"
    with uvicorn_server(url, 2) as base:
        world = await activity.World.load(url, city)
        if history:
            messages = await activity.chat_history(base, world, args.messages)
            log(f"{messages} chat messages in the chatting patients' conversations", started)
        orders = await activity.stock_boards(base, world, args.new_orders, args.in_transit)
        log(f"{orders} pharmacy orders placed and moved along", started)


def main() -> None:
    """Parse the flags and build or top up the city."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--database", default="chronic_load")
    parser.add_argument("--patients", type=int, default=3000)
    parser.add_argument("--doctors", type=int, default=24, help="including the 4 demo doctors")
    parser.add_argument("--chatting", type=int, help="patients who chat (default: a tenth)")
    parser.add_argument("--one-minute-share", type=float, default=0.2, help="1-minute CGMs")
    parser.add_argument("--bp-share", type=float, default=0.3, help="patients with a BP monitor")
    parser.add_argument("--ecg-share", type=float, default=0.0, help="patients with an ECG patch")
    parser.add_argument("--days", type=int, default=3, help="days of readings per patient")
    parser.add_argument("--messages", type=int, default=6, help="history per chatting patient")
    parser.add_argument("--new-orders", type=int, default=30, help="new orders per store")
    parser.add_argument(
        "--in-transit", type=int, default=6, help="orders out for delivery per store (new city)"
    )
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--top-up", action="store_true", help="reuse the city in --out")
    args = parser.parse_args()
    if args.doctors < len(demo.DOCTORS):
        parser.error(f"--doctors includes the {len(demo.DOCTORS)} demo doctors")
    if args.chatting is None:
        args.chatting = args.patients // 10
    if args.top_up:
        city = asyncio.run(top_up(args, json.loads(args.out.read_text(encoding="utf-8"))))
    else:
        city = asyncio.run(build(args))
    save(args.out, city)
    print(args.out)


if __name__ == "__main__":
    main()
