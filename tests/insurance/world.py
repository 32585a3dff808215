"""Rows and claims for settlement tests: one institution, disease, drugs, rules and patients."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.insurance.claims import Claim, ClaimItem
from app.models import BenefitRule, ChronicDisease, Drug, Institution, Patient, PharmacyStore, Role
from tests.fixtures import factories

YEAR = 2026
# Mid-month moments (UTC) well inside the Asia/Shanghai month.
MARCH = datetime(YEAR, 3, 10, 2, 0, tzinfo=UTC)
APRIL_FIRST = datetime(YEAR, 4, 1, 2, 0, tzinfo=UTC)

# Terms used throughout: deductible 100.00 yuan, fund pays 70%, category B pre-pays 10%,
# annual limit 2,000.00 yuan (small, so tests reach it).
DEDUCTIBLE = 10_000
RATIO_BP = 7_000
PREPAY_BP = 1_000
LIMIT = 200_000


@dataclass
class World:
    institution: Institution
    disease: ChronicDisease
    store: PharmacyStore
    full: Drug
    partial: Drug
    self_pay: Drug
    rule: BenefitRule


def _suffix() -> str:
    return uuid.uuid4().hex[:8]


async def drug(session: AsyncSession, insurance_class: str, price_fen: int) -> Drug:
    """A drug of an insurance class."""
    row = Drug(
        national_code=f"XT{_suffix()}{uuid.uuid4().hex[:13]}",
        generic_name_zh=f"测试药{insurance_class}",
        generic_name_en=f"Test drug {insurance_class}",
        product_name_zh="测试",
        form="片剂",
        strength="1mg",
        pack="1mg×30片/盒",
        manufacturer_zh="测试药厂",
        price_fen=price_fen,
        insurance_class=insurance_class,
    )
    session.add(row)
    await session.flush()
    return row


async def rule(
    session: AsyncSession,
    disease: ChronicDisease,
    *,
    insurance_type: str = "310",
    level: str = "tertiary",
    version: int = 1,
    effective_from: date = date(YEAR, 1, 1),
    deductible_fen: int = DEDUCTIBLE,
    reimbursement_bp: int = RATIO_BP,
) -> BenefitRule:
    """A benefit rule version written directly (bypassing the 'not in the past' check)."""
    row = BenefitRule(
        insurance_type=insurance_type,
        disease_id=disease.id,
        institution_level=level,
        year=effective_from.year,
        version=version,
        effective_from=effective_from,
        deductible_fen=deductible_fen,
        reimbursement_bp=reimbursement_bp,
        partial_prepay_bp=PREPAY_BP,
    )
    session.add(row)
    await session.flush()
    return row


async def build(session: AsyncSession) -> World:
    """A fresh world (its own institution, disease, store and drugs)."""
    institution = await factories.institution(session, level="tertiary")
    disease = await factories.disease(session)
    # The annual limit is the catalogue's, per disease and insurance type (按病种限额).
    await factories.list_in_catalogue(session, disease, {"310": LIMIT, "390": LIMIT})
    return World(
        institution=institution,
        disease=disease,
        store=await factories.store(session),
        full=await drug(session, "full", 2_000),
        partial=await drug(session, "partial", 5_000),
        self_pay=await drug(session, "self_pay", 1_000),
        rule=await rule(session, disease),
    )


async def second_disease(session: AsyncSession, world: World, limits: dict[str, int]) -> World:
    """The same world for a second disease of its own (hypertension), listed in the catalogue
    with its own annual limits, and a rule for each of their insurance types."""
    disease = await factories.disease(
        session, national_code="M03900", name_zh="高血压（三级 极高危）", name_en="HTN"
    )
    await factories.list_in_catalogue(session, disease, limits)
    for kind in limits:
        await rule(session, disease, insurance_type=kind)
    return dataclasses.replace(world, disease=disease)


# Patient id -> the verified identity `patient` gave them (claims name it).
_IDENTITIES: dict[uuid.UUID, uuid.UUID] = {}


async def patient(session: AsyncSession, insurance_type: str = "310") -> Patient:
    """A new insured patient: identity verified by the bureau and declared alike (employees
    with a personal account)."""
    account = await factories.account(session, Role.patient)
    row = await factories.patient_of(session, account)
    identity = await factories.insured(session, row, insurance_type=insurance_type)
    _IDENTITIES[row.id] = identity.id
    return row


def claim(
    world: World,
    patient_row: Patient,
    lines: list[tuple[Drug, int]],
    *,
    moment: datetime = MARCH,
    order_id: uuid.UUID | None = None,
    account_balance_fen: int = 0,
) -> Claim:
    """A claim for (drug, quantity) lines at the drugs' catalogue prices."""
    return Claim(
        order_id=order_id or uuid.uuid4(),
        patient_id=patient_row.id,
        institution_id=world.institution.id,
        store_id=world.store.id,
        disease_id=world.disease.id,
        insurance_type=patient_row.insurance_type,  # type: ignore[arg-type]
        insured_identity_id=_IDENTITIES.get(patient_row.id),
        moment=moment,
        items=tuple(
            ClaimItem(
                drug_id=d.id,
                national_code=d.national_code,
                name_zh=d.generic_name_zh,
                quantity=quantity,
                unit_price_fen=d.price_fen,
                insurance_class=d.insurance_class,  # type: ignore[arg-type]
            )
            for d, quantity in lines
        ),
        personal_account_balance_fen=account_balance_fen,
    )


def message_id() -> str:
    """A fresh insurer message id."""
    return uuid.uuid4().hex
