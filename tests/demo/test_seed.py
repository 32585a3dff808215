"""The demo data loader: idempotent, complete for the pilot city, and secrets encrypted at rest."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import wiring
from app.auth.passwords import verify_password
from app.catalogue import service as catalogue_service
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo import DEMO_PASSWORD, DemoSummary, data, format_credentials, load_demo_data
from app.kit.crypto import blind_index, field_cipher
from app.models import (
    Account,
    CareRelationship,
    ChronicDisease,
    District,
    Doctor,
    Drug,
    EnrollmentReviewer,
    Institution,
    Patient,
    PharmacyStaff,
    PharmacyStore,
    PharmacyStoreCoverage,
    PrescriptionReviewer,
)
from app.reference.codes import code_problem

pytestmark = pytest.mark.sqlite_file

PROJECT_ROOT = Path(__file__).resolve().parents[2]
METFORMIN = "XA10BAE054A001010100001"  # docs/domain.md (codes)
DEMO_TABLES = (
    "districts",
    "institutions",
    "pharmacy_chains",
    "pharmacy_stores",
    "pharmacy_store_coverage",
    "chronic_diseases",
    "drugs",
    "accounts",
    "doctors",
    "pharmacy_staff",
    "patients",
    "care_relationships",
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


@dataclass
class Loaded:
    first: DemoSummary
    second: DemoSummary
    snapshot_first: dict[str, list[tuple[Any, ...]]]
    snapshot_second: dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A temp-file SQLite database with the schema built by `alembic upgrade head`."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"alembic upgrade failed:\n{result.stdout}\n{result.stderr}"
    return url


@pytest.fixture(scope="module")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(Settings(database_url=db_url))
    yield eng
    await eng.dispose()


async def _snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every raw row of every demo table (ciphertext included), in a stable order."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in DEMO_TABLES:
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            snapshot[table] = sorted((tuple(r) for r in rows), key=repr)
    return snapshot


@pytest.fixture(scope="module")
async def loaded(engine: AsyncEngine) -> Loaded:
    """The demo data loaded twice, each run in its own committed transaction (wired, as the
    CLI loads it: the demo month's reversal refunds through a subscriber)."""
    wiring.wire()
    sessionmaker = create_sessionmaker(engine)
    async with sessionmaker() as session:
        first = await load_demo_data(session)
        await session.commit()
    snapshot_first = await _snapshot(engine)
    async with sessionmaker() as session:
        second = await load_demo_data(session)
        await session.commit()
    snapshot_second = await _snapshot(engine)
    return Loaded(first, second, snapshot_first, snapshot_second)


@pytest.fixture
async def session(engine: AsyncEngine, loaded: Loaded) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(engine)() as s:
        yield s


async def _count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- the data itself (no database) ---------------------------------------------------------


def test_national_ids_are_valid_and_match_the_patient() -> None:
    for p in data.PATIENTS:
        nid = p.national_id
        assert len(nid) == 18 and nid[:17].isdigit()
        assert nid[:6] == p.district_code
        assert nid[6:14] == p.birth_date.strftime("%Y%m%d")
        assert (int(nid[16]) % 2 == 1) == (p.gender == "male")
        check = ID_CHECK[sum(int(d) * w for d, w in zip(nid[:17], ID_WEIGHTS, strict=True)) % 11]
        assert nid[17] == check, p.wechat_openid
        assert len(p.phone) == 11 and p.phone.isdigit() and p.phone.startswith("1")


def test_references_inside_the_data_resolve() -> None:
    districts = {d.code for d in data.DISTRICTS}
    institutions = {i.code for i in data.INSTITUTIONS}
    stores = {s.code for s in data.STORES}
    diseases = {d.code for d in catalogue_service.read_catalogue_file().diseases}
    assert {i.district_code for i in data.INSTITUTIONS} <= districts
    assert all(set(s.covers) <= districts for s in data.STORES)
    assert {d.institution_code for d in data.DOCTORS} <= institutions
    assert {s.store_code for s in data.PHARMACY_STAFF} <= stores
    assert all(set(d.specialties) <= diseases for d in data.DOCTORS)
    assert all(set(p.conditions) <= diseases for p in data.PATIENTS)
    assert {c.patient_openid for c in data.CARE} == {p.wechat_openid for p in data.PATIENTS}


# --- loading into a migrated database -------------------------------------------------------


async def test_loading_twice_changes_nothing(loaded: Loaded) -> None:
    assert loaded.first.created > 0
    assert loaded.second.created == 0
    assert loaded.snapshot_second == loaded.snapshot_first
    counts = {t: len(rows) for t, rows in loaded.snapshot_second.items()}
    assert counts["districts"] == 5
    assert counts["institutions"] == 15
    assert counts["pharmacy_chains"] == 1
    assert counts["pharmacy_stores"] == len(data.STORES)
    assert counts["drugs"] == len(data.DRUGS)
    assert counts["patients"] == 4
    assert counts["doctors"] == len(data.DOCTORS) == 17
    assert counts["pharmacy_staff"] == len(data.PHARMACY_STAFF) == 12
    # admin and bureau, doctors, store staff, the hospital pharmacist, patients
    assert counts["accounts"] == 3 + 17 + 12 + 1 + 4
    # The receiving doctors, plus the family-doctor team's access (enrollment demo).
    assert counts["care_relationships"] >= len(data.CARE)
    for summary in (loaded.first, loaded.second):
        assert summary.institutions == 15 and summary.patients == 4


async def test_fifteen_institutions_one_online_pilot(session: AsyncSession) -> None:
    assert await _count(session, Institution) == 15
    pilots = (await session.scalars(select(Institution).where(Institution.is_online_pilot))).all()
    assert len(pilots) == 1
    pilot = pilots[0]
    assert pilot.name_zh == "阳泉市第一人民医院"
    assert pilot.level == "tertiary" and pilot.district_code == "140302"
    levels = set((await session.scalars(select(Institution.level))).all())
    assert levels <= {"secondary", "tertiary"}


async def test_every_district_has_a_store_covering_it(session: AsyncSession) -> None:
    districts = set((await session.scalars(select(District.code))).all())
    assert districts == {"140302", "140303", "140311", "140321", "140322"}
    covered = set(
        (
            await session.scalars(
                select(PharmacyStoreCoverage.district_code)
                .join(PharmacyStore, PharmacyStore.id == PharmacyStoreCoverage.store_id)
                .where(PharmacyStore.is_active)
            )
        ).all()
    )
    assert covered == districts
    mountainous = set(
        (await session.scalars(select(District.code).where(District.is_mountainous))).all()
    )
    assert mountainous == {"140321", "140322"}


async def test_demo_staff_sign_in_with_the_demo_password(session: AsyncSession) -> None:
    staff = (await session.scalars(select(Account).where(Account.role != "patient"))).all()
    assert {a.username for a in staff} >= {"admin"}
    assert {a.role for a in staff} == {"admin", "bureau", "doctor", "pharmacist", "courier"}
    for account in staff:
        assert verify_password(account.password_hash, DEMO_PASSWORD), account.username
    assert not verify_password(staff[0].password_hash, "wrong-password")


async def test_a_hospital_pharmacist_reviews_the_pilot_hospitals_prescriptions(
    session: AsyncSession,
) -> None:
    reviewers = (
        await session.execute(
            select(Account.username, Institution.code)
            .join(PrescriptionReviewer, PrescriptionReviewer.account_id == Account.id)
            .join(Institution, Institution.id == PrescriptionReviewer.institution_id)
        )
    ).all()
    assert [tuple(r) for r in reviewers] == [("rx.qian", data.PILOT_INSTITUTION_CODE)]
    on_store_staff = await session.scalar(
        select(func.count())
        .select_from(PharmacyStaff)
        .join(Account, Account.id == PharmacyStaff.account_id)
        .where(Account.username == "rx.qian")
    )
    assert on_store_staff == 0


async def test_doctors_and_care_relationships(session: AsyncSession) -> None:
    rows = (
        await session.execute(
            select(Account.wechat_openid, CareRelationship, Doctor)
            .join(Patient, Patient.account_id == Account.id)
            .join(CareRelationship, CareRelationship.patient_id == Patient.id)
            .join(Doctor, Doctor.id == CareRelationship.doctor_id)
            .where(CareRelationship.kind == "primary")
        )
    ).all()
    pairs: dict[str, str] = {}
    for openid, care, doctor in rows:
        assert openid is not None
        assert care.ended_at is None
        assert care.institution_id == doctor.institution_id
        doctor_account = await session.get(Account, doctor.account_id)
        assert doctor_account is not None and doctor_account.username is not None
        pairs[openid] = doctor_account.username
    assert pairs == {
        "demo-openid-patient-1": "dr.zhang",
        "demo-openid-patient-2": "dr.zhang",
        "demo-openid-patient-3": "dr.chen",
        "demo-openid-patient-4": "dr.zhao",
    }
    gp = await session.scalar(
        select(Doctor)
        .join(Account, Account.id == Doctor.account_id)
        .where(Account.username == "dr.zhao")
    )
    assert gp is not None and set(gp.specialties) == {"M01600", "M03900"}
    hospital = await session.get(Institution, gp.institution_id)
    assert hospital is not None and hospital.name_zh == "平定县人民医院"


async def test_online_admitted_diseases(session: AsyncSession) -> None:
    admitted = (
        await session.execute(
            select(ChronicDisease.code, ChronicDisease.national_code).where(
                ChronicDisease.online_admitted
            )
        )
    ).all()
    assert sorted(tuple(r) for r in admitted) == [("M01603", "M01600"), ("M03902", "M03900")]


async def test_drug_catalogue(session: AsyncSession) -> None:
    drugs = (await session.scalars(select(Drug))).all()
    metformin = next(d for d in drugs if "二甲双胍" in d.generic_name_zh)
    assert metformin.national_code == METFORMIN
    codes = [d.national_code for d in drugs]
    assert len(codes) == len(set(codes))
    for drug in drugs:
        assert len(drug.national_code) == 23 and drug.national_code.startswith("X"), drug
        assert drug.price_fen > 0
        assert drug.insurance_class in {"full", "partial", "self_pay"}
    assert any(d.controlled for d in drugs)
    assert all(d.cold_chain for d in drugs if "胰岛素" in d.generic_name_zh)
    assert sum(d.cold_chain for d in drugs) >= 2


async def test_patient_identifiers_are_encrypted_at_rest(session: AsyncSession) -> None:
    raw = (
        await session.execute(
            text(
                "SELECT a.wechat_openid, p.national_id, p.phone, p.address, p.national_id_index "
                "FROM patients p JOIN accounts a ON a.id = p.account_id"
            )
        )
    ).all()
    plain = {p.wechat_openid: p for p in data.PATIENTS}
    assert {r[0] for r in raw} == set(plain)
    cipher = field_cipher(session.get_bind().dialect)
    for openid, national_id, phone, address, index in raw:
        expected = plain[openid]
        for stored, value in (
            (national_id, expected.national_id),
            (phone, expected.phone),
            (address, expected.address),
        ):
            assert stored != value and value not in stored
            assert cipher.decrypt(stored) == value
        assert index == blind_index(session, expected.national_id)
    # Through the ORM the same columns read back as plain text.
    patient = await session.scalar(
        select(Patient).where(
            Patient.national_id_index == blind_index(session, data.PATIENTS[0].national_id)
        )
    )
    assert patient is not None and patient.phone == data.PATIENTS[0].phone


async def test_format_credentials(loaded: Loaded) -> None:
    table = format_credentials(loaded.second)
    assert "admin" in table and DEMO_PASSWORD in table
    assert "demo-openid-patient-4" in table and "wx.login" in table
    assert "医生 doctor" in table and "患者 patient" in table
    assert len(loaded.second.credentials) == 37  # 33 staff + 4 patients


async def test_every_institution_carries_a_national_code_and_takes_enrollments(
    session: AsyncSession,
) -> None:
    institutions = (await session.scalars(select(Institution))).all()
    for institution in institutions:
        problem = code_problem(institution.code, "H", institution.district_code)
        assert problem is None, (institution.code, problem)
    with_doctor = set((await session.scalars(select(Doctor.institution_id))).all())
    assert {i.id for i in institutions} <= with_doctor
    # A doctor there reviews its enrollment applications.
    reviewed = set((await session.scalars(select(EnrollmentReviewer.institution_id))).all())
    assert {i.id for i in institutions} <= reviewed


async def test_every_store_has_a_national_code_a_pharmacist_and_a_courier(
    session: AsyncSession,
) -> None:
    stores = (await session.scalars(select(PharmacyStore))).all()
    for store in stores:
        assert store.fixmedins_code is not None
        assert code_problem(store.fixmedins_code, "P", store.district_code) is None
    staffed = (
        await session.execute(
            select(PharmacyStaff.store_id, Account.role).join(
                Account, Account.id == PharmacyStaff.account_id
            )
        )
    ).all()
    for store in stores:
        roles = {role for store_id, role in staffed if store_id == store.id}
        assert roles == {"pharmacist", "courier"}, store.code
