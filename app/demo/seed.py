"""Idempotent loader of the demo data: get-or-create every row by its natural key."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.passwords import hash_password
from app.authz.principal import Principal
from app.catalogue import service as catalogue_service
from app.config import Environment, get_settings
from app.demo import data
from app.demo.enrollment import load_demo_enrollment
from app.demo.identity import load_demo_identities
from app.demo.insurance import load_benefit_rules, load_demo_month
from app.demo.phone import DemoPhone
from app.demo.reading import load_demo_wearables
from app.kit.clock import utcnow
from app.kit.crypto import blind_index
from app.kit.repository import by_id, every_row, first_by
from app.models import (
    Account,
    CareRelationship,
    ChronicDisease,
    District,
    Doctor,
    DoctorSigningKey,
    Drug,
    FormularyItem,
    Institution,
    Patient,
    PharmacyChain,
    PharmacyStaff,
    PharmacyStock,
    PharmacyStore,
    PharmacyStoreCoverage,
    PrescriptionReviewer,
    Role,
)
from app.prescription import keys as keys_service
from app.prescription.schemas import SigningKeyCreate

ROLE_LABELS: dict[str, str] = {
    "admin": "平台管理员 admin",
    "bureau": "医保局 bureau",
    "doctor": "医生 doctor",
    "pharmacist": "药师 pharmacist",
    "courier": "配送员 courier",
    "patient": "患者 patient",
}

# The demo's own acts (registering and activating the demo doctors' keys, audited as the
# doctor's and the admin's) have no sign-in session behind them: this id stands for one.
SEED_SESSION = uuid.UUID("00000000-0000-0000-0000-00000000d3e0")
PATIENT_SECRET = "wx.login openid"  # noqa: S105 - a hint shown for patients, not a secret


@dataclass(frozen=True)
class CredentialLine:
    """How one demo person signs in."""

    role: str
    login: str  # username for staff, WeChat openid for patients
    secret: str  # DEMO_PASSWORD for staff, PATIENT_SECRET for patients
    display_name: str


@dataclass
class DemoSummary:
    """What the demo data set holds after loading, and how many rows this run inserted."""

    districts: int = 0
    institutions: int = 0
    chains: int = 0
    stores: int = 0
    store_coverage: int = 0
    diseases: int = 0
    drugs: int = 0
    staff_accounts: int = 0
    doctors: int = 0
    pharmacy_staff: int = 0
    patients: int = 0
    care_relationships: int = 0
    formulary_items: int = 0
    stock_rows: int = 0
    created: int = 0  # rows inserted by this run; 0 when the data was already there
    # Demo wearable readings in the last 14 days (they follow the clock, so not in `created`).
    readings: int = 0
    credentials: list[CredentialLine] = field(default_factory=list)


async def load_demo_data(session: AsyncSession, *, allow_prod: bool = False) -> DemoSummary:
    """Ensure every demo row exists (idempotent); flushes only, the caller commits."""
    if get_settings().env == Environment.prod and not allow_prod:
        raise RuntimeError("refusing to load demo data (known passwords) in prod")
    summary = DemoSummary()
    await _districts(session, summary)
    institutions = await _institutions(session, summary)
    stores = await _pharmacy(session, summary)
    await _diseases(session, summary)
    await _drugs(session, summary)
    await _admins_and_bureau(session, summary)
    doctors = await _doctors(session, summary, institutions)
    summary.created += await _doctor_keys(session, doctors)
    await _pharmacy_staff(session, summary, stores)
    await _hospital_pharmacists(session, summary, institutions)
    patients = await _patients(session, summary)
    await _care(session, summary, patients, doctors)
    # Enrollment and care: catalogue, entitlements, reviewer, team, follow-up.
    summary.created += await load_demo_enrollment(session, patients, doctors)
    # Insured identities: declared, verified by the bureau, bound to entitlements.
    summary.created += await load_demo_identities(session, patients)
    wearables = await load_demo_wearables(session, patients[data.DEMO_WEARER])
    summary.readings = wearables.readings
    await _pharmacy_supply(session, summary, stores)
    # Insurance: 2026 benefit rules, then one patient's settled month (idempotent).
    summary.created += await load_benefit_rules(session)
    await load_demo_month(session)
    return summary


async def _districts(session: AsyncSession, summary: DemoSummary) -> None:
    for item in data.DISTRICTS:
        if await by_id(session, District, item.code) is None:
            session.add(
                District(
                    code=item.code,
                    name_zh=item.name_zh,
                    name_en=item.name_en,
                    is_county=item.is_county,
                    is_mountainous=item.is_mountainous,
                )
            )
            summary.created += 1
        summary.districts += 1
    await session.flush()


async def _institutions(session: AsyncSession, summary: DemoSummary) -> dict[str, Institution]:
    by_code: dict[str, Institution] = {}
    for item in data.INSTITUTIONS:
        row = await first_by(session, Institution, code=item.code)
        if row is None:
            row = Institution(
                code=item.code,
                name_zh=item.name_zh,
                name_en=item.name_en,
                level=item.level,
                district_code=item.district_code,
                is_designated=True,
                is_online_pilot=item.is_online_pilot,
            )
            session.add(row)
            summary.created += 1
        by_code[item.code] = row
        summary.institutions += 1
    await session.flush()
    return by_code


async def _pharmacy(session: AsyncSession, summary: DemoSummary) -> dict[str, PharmacyStore]:
    chain = await first_by(session, PharmacyChain, code=data.CHAIN.code)
    if chain is None:
        chain = PharmacyChain(
            code=data.CHAIN.code, name_zh=data.CHAIN.name_zh, name_en=data.CHAIN.name_en
        )
        session.add(chain)
        summary.created += 1
        await session.flush()
    summary.chains += 1

    by_code: dict[str, PharmacyStore] = {}
    for item in data.STORES:
        store = await first_by(session, PharmacyStore, code=item.code)
        if store is None:
            store = PharmacyStore(
                chain_id=chain.id,
                code=item.code,
                fixmedins_code=item.fixmedins_code,
                name_zh=item.name_zh,
                name_en=item.name_en,
                district_code=item.district_code,
                address_zh=item.address_zh,
                is_active=True,
            )
            session.add(store)
            summary.created += 1
        elif store.fixmedins_code is None:
            # Stores loaded before stores carried their national code (migration 0023).
            store.fixmedins_code = item.fixmedins_code
        by_code[item.code] = store
        summary.stores += 1
    await session.flush()

    for item in data.STORES:
        store = by_code[item.code]
        for district_code in item.covers:
            if await by_id(session, PharmacyStoreCoverage, (store.id, district_code)) is None:
                session.add(PharmacyStoreCoverage(store_id=store.id, district_code=district_code))
                summary.created += 1
            summary.store_coverage += 1
    await session.flush()
    return by_code


async def _diseases(session: AsyncSession, summary: DemoSummary) -> None:
    # The city's catalogue file: 29 categories and 40 diseases with their national codes, and
    # illustrative per-disease limits (docs/catalogue.md).
    loaded = await catalogue_service.load_catalogue(
        session, catalogue_service.read_catalogue_file(), backdate=True
    )
    summary.created += loaded.categories_created + loaded.diseases_created
    summary.created += int(loaded.edition_created)
    summary.diseases = len(loaded.view.items)


async def _drugs(session: AsyncSession, summary: DemoSummary) -> None:
    for item in data.DRUGS:
        row = await first_by(session, Drug, national_code=item.national_code)
        if row is None:
            session.add(
                Drug(
                    national_code=item.national_code,
                    generic_name_zh=item.generic_name_zh,
                    generic_name_en=item.generic_name_en,
                    product_name_zh=item.product_name_zh,
                    form=item.form,
                    strength=item.strength,
                    pack=item.pack,
                    manufacturer_zh=item.manufacturer_zh,
                    price_fen=item.price_fen,
                    insurance_class=item.insurance_class,
                    cold_chain=item.cold_chain,
                    controlled=item.controlled,
                )
            )
            summary.created += 1
        summary.drugs += 1
    await session.flush()


async def _staff_account(
    session: AsyncSession, summary: DemoSummary, role: str, username: str, display_name: str
) -> Account:
    account = await first_by(session, Account, username=username)
    if account is None:
        # argon2 is deliberately slow: keep it off the event loop.
        password_hash = await asyncio.to_thread(hash_password, data.DEMO_PASSWORD)
        account = Account(
            role=role,
            username=username,
            password_hash=password_hash,
            display_name=display_name,
            is_active=True,
        )
        session.add(account)
        summary.created += 1
        await session.flush()
    summary.staff_accounts += 1
    summary.credentials.append(
        CredentialLine(account.role, username, data.DEMO_PASSWORD, account.display_name)
    )
    return account


async def _admins_and_bureau(session: AsyncSession, summary: DemoSummary) -> None:
    for item in data.ADMINS_AND_BUREAU:
        await _staff_account(session, summary, item.role, item.username, item.display_name)


async def _doctors(
    session: AsyncSession, summary: DemoSummary, institutions: dict[str, Institution]
) -> dict[str, Doctor]:
    by_username: dict[str, Doctor] = {}
    for item in data.DOCTORS:
        account = await _staff_account(session, summary, "doctor", item.username, item.display_name)
        doctor = await first_by(session, Doctor, account_id=account.id)
        if doctor is None:
            doctor = Doctor(
                account_id=account.id,
                institution_id=institutions[item.institution_code].id,
                name=item.display_name,
                department_zh=item.department_zh,
                title_zh=item.title_zh,
                specialties=list(item.specialties),
                max_active_patients=item.max_active_patients,
            )
            session.add(doctor)
            summary.created += 1
        by_username[item.username] = doctor
        summary.doctors += 1
    await session.flush()
    return by_username


async def _doctor_keys(session: AsyncSession, doctors: dict[str, Doctor]) -> int:
    """Each demo doctor's phone key (app/demo/phone.py, derived: demo only), registered as the
    doctor and activated by the demo admin through the same audited rules as the API. Keys
    already registered are left as they are. Returns how many were activated."""
    admin = await first_by(session, Account, Account.username, role="admin")
    assert admin is not None, "the demo admin is loaded first"
    activated = 0
    for username, doctor in doctors.items():
        phone = DemoPhone(username)
        key = await first_by(session, DoctorSigningKey, public_key=phone.public_key)
        if key is None:
            account = await by_id(session, Account, doctor.account_id)
            assert account is not None
            as_doctor = Principal(
                account_id=account.id, session_id=SEED_SESSION, role=Role.doctor,
                display_name=account.display_name, doctor_id=doctor.id,
            )  # fmt: skip
            body = SigningKeyCreate.model_validate(phone.registration(doctor.id))
            key = await keys_service.register(session, as_doctor, body)
        if key.status == "pending":
            as_admin = Principal(
                account_id=admin.id, session_id=SEED_SESSION, role=Role.admin,
                display_name=admin.display_name,
            )  # fmt: skip
            await keys_service.activate(session, as_admin, key.id, phone.fingerprint)
            activated += 1
    return activated


async def _pharmacy_staff(
    session: AsyncSession, summary: DemoSummary, stores: dict[str, PharmacyStore]
) -> None:
    for item in data.PHARMACY_STAFF:
        account = await _staff_account(
            session, summary, item.role, item.username, item.display_name
        )
        row = await first_by(session, PharmacyStaff, account_id=account.id)
        if row is None:
            session.add(PharmacyStaff(account_id=account.id, store_id=stores[item.store_code].id))
            summary.created += 1
        summary.pharmacy_staff += 1
    await session.flush()


async def _hospital_pharmacists(
    session: AsyncSession, summary: DemoSummary, institutions: dict[str, Institution]
) -> None:
    for item in data.HOSPITAL_PHARMACISTS:
        account = await _staff_account(
            session, summary, "pharmacist", item.username, item.display_name
        )
        row = await first_by(session, PrescriptionReviewer, account_id=account.id)
        if row is None:
            session.add(
                PrescriptionReviewer(
                    account_id=account.id, institution_id=institutions[item.institution_code].id
                )
            )
            summary.created += 1
    await session.flush()


async def _patients(session: AsyncSession, summary: DemoSummary) -> dict[str, Patient]:
    by_openid: dict[str, Patient] = {}
    for item in data.PATIENTS:
        account = await first_by(session, Account, wechat_openid=item.wechat_openid)
        if account is None:
            account = Account(
                role="patient",
                wechat_openid=item.wechat_openid,
                display_name=item.name,
                is_active=True,
            )
            session.add(account)
            summary.created += 1
            await session.flush()
        patient = await first_by(session, Patient, account_id=account.id)
        if patient is None:
            patient = Patient(
                account_id=account.id,
                name=item.name,
                gender=item.gender,
                birth_date=item.birth_date,
                national_id=item.national_id,
                national_id_index=blind_index(session, item.national_id),
                phone=item.phone,
                insurance_type=item.insurance_type,
                district_code=item.district_code,
                address=item.address,
            )
            session.add(patient)
            summary.created += 1
        by_openid[item.wechat_openid] = patient
        summary.patients += 1
        summary.credentials.append(
            CredentialLine("patient", item.wechat_openid, PATIENT_SECRET, account.display_name)
        )
    await session.flush()
    return by_openid


async def _care(
    session: AsyncSession,
    summary: DemoSummary,
    patients: dict[str, Patient],
    doctors: dict[str, Doctor],
) -> None:
    for item in data.CARE:
        patient_id: uuid.UUID = patients[item.patient_openid].id
        doctor = doctors[item.doctor_username]
        existing = await first_by(
            session, CareRelationship, patient_id=patient_id, doctor_id=doctor.id, ended_at=None
        )
        if existing is None:
            session.add(
                CareRelationship(
                    patient_id=patient_id,
                    doctor_id=doctor.id,
                    institution_id=doctor.institution_id,
                    kind=item.kind,
                    started_at=utcnow(),
                )
            )
            summary.created += 1
        summary.care_relationships += 1
    await session.flush()


async def _pharmacy_supply(
    session: AsyncSession,
    summary: DemoSummary,
    stores: dict[str, PharmacyStore],
) -> None:
    """The online formulary and every store's starting stock."""
    diseases = {d.code: d.id for d in await every_row(session, ChronicDisease)}
    drugs = {d.national_code: d.id for d in await every_row(session, Drug)}
    for item in data.FORMULARY:
        key = (diseases[item.disease_code], drugs[item.drug_code])
        if await by_id(session, FormularyItem, key) is None:
            session.add(
                FormularyItem(
                    disease_id=key[0],
                    drug_id=key[1],
                    therapeutic_class=item.therapeutic_class,
                    dose_unit=item.dose_unit,
                    units_per_pack=item.units_per_pack,
                    max_daily_quantity=Decimal(item.max_daily_quantity),
                    default_route=item.route,
                )
            )
            summary.created += 1
        summary.formulary_items += 1
    for store in stores.values():
        for drug_id in {drugs[item.drug_code] for item in data.FORMULARY}:
            if await by_id(session, PharmacyStock, (store.id, drug_id)) is None:
                session.add(
                    PharmacyStock(
                        store_id=store.id,
                        drug_id=drug_id,
                        quantity=data.STORE_STOCK_PACKS,
                        updated_at=utcnow(),
                    )
                )
                summary.created += 1
            summary.stock_rows += 1
    await session.flush()


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_credentials(summary: DemoSummary) -> str:
    """The demo sign-in credentials as an aligned text table (CJK-aware column widths)."""
    header = ("角色 Role", "登录名 Username / openid", "密码 Password", "姓名 Name")
    rows = [
        (ROLE_LABELS.get(c.role, c.role), c.login, c.secret, c.display_name)
        for c in summary.credentials
    ]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)
    lines = ["  ".join(_pad(cell, w) for cell, w in zip(header, widths, strict=True)), rule]
    lines += ["  ".join(_pad(cell, w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(rule)
    lines.append(
        f"Patients sign in through WeChat: in dev, POST /_dev/wechat/wx.login with the openid. "
        f"Rows inserted by this run: {summary.created}."
    )
    return "\n".join(line.rstrip() for line in lines)
