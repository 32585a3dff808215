"""The demo month (dev/test only): one patient's March 2026 at the pilot hospital.

Four deliveries: one fails (cold-chain excursion) and is reversed, then delivered again; the
personal share is paid in cash and by card at the door; then the bureau generates, confirms and
pays the hospital's statement. Every step is keyed (message ids, collection ids), so loading it
again books nothing new. The clock is set to each step's moment, as the month happened.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.config import Environment, get_settings
from app.demo import data
from app.identity import repository as identity_repository
from app.insurance import settlement as settlement_service
from app.insurance import statements as statement_service
from app.insurance.claims import Claim, ClaimItem
from app.kit.clock import city_date, frozen_at
from app.kit.repository import every_row, first_by
from app.models import (
    Account,
    BenefitRule,
    ChronicDisease,
    Drug,
    Institution,
    Patient,
    PharmacyStaff,
    Role,
    Settlement,
    Statement,
)
from app.payment import service as payment_service
from app.payment.schemas import HandOverPayment

MONTH = "2026-03"
PATIENT_OPENID = "demo-openid-patient-2"  # 王海军, employee insurance (310)
COURIER = "courier.wu"
BUREAU = "bureau.wang"
_NAMESPACE = uuid.UUID("5f1c3c52-7a4e-4d51-9d8e-0c7f1d2a6b01")

# (key, day, hour UTC, lines as (drug code, quantity), personal-account balance in fen)
DELIVERIES = (
    ("d1", 3, 2, ((data.METFORMIN_CODE, 6), ("XA10BFA012A001010100031", 4)), 0),
    ("d2", 10, 2, (("XA10AEG128B002020100011", 4),), 0),
    ("d3", 12, 6, (("XA10AEG128B002020100011", 4),), 0),
    ("d4", 24, 3, (("XA10BHX071A001010100051", 4), (data.METFORMIN_CODE, 6)), 3_000),
)
# d3 re-delivers d2's order after the failed attempt was reversed.
ORDER_OF = {"d1": "order-1", "d2": "order-2", "d3": "order-2", "d4": "order-3"}
FAILED = ("d2", datetime(2026, 3, 10, 9, 0, tzinfo=UTC), "冷链温度超限，配送失败")
PAYMENTS = (("d1", "cash"), ("d3", "card"), ("d4", "cash"))


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


@dataclass(frozen=True)
class DemoMonth:
    settlements: dict[str, Settlement]
    reversal: Settlement
    statement: Statement


async def _staff(session: AsyncSession, username: str) -> Principal:
    account = await first_by(session, Account, username=username)
    assert account is not None, "load the demo data first"
    staff = await first_by(session, PharmacyStaff, account_id=account.id)
    return Principal(
        account_id=account.id,
        session_id=_id(f"session-{username}"),
        role=Role(account.role),
        display_name=account.display_name,
        store_id=staff.store_id if staff is not None else None,
    )


async def load_demo_month(session: AsyncSession) -> DemoMonth:
    """Book the demo month (idempotent; refuses to run in prod)."""
    if get_settings().env == Environment.prod:
        raise RuntimeError("refusing to book demo settlements in prod")
    account = await first_by(session, Account, wechat_openid=PATIENT_OPENID)
    assert account is not None, "load the demo data first"
    patient = await first_by(session, Patient, account_id=account.id)
    institution = await first_by(session, Institution, code=data.PILOT_INSTITUTION_CODE)
    disease = await first_by(session, ChronicDisease, code="M01603")
    assert patient is not None and institution is not None and disease is not None
    # Claims use the identity the bureau verified (app.demo.identity), never the profile.
    identity = await identity_repository.current_identity(session, patient.id)
    assert identity is not None, "load the demo identities first"
    drugs = {d.national_code: d for d in await every_row(session, Drug)}
    courier, bureau = await _staff(session, COURIER), await _staff(session, BUREAU)

    settled: dict[str, Settlement] = {}
    reversal: Settlement | None = None
    for key, day, hour, lines, balance in DELIVERIES:
        moment = datetime(2026, 3, day, hour, tzinfo=UTC)
        claim = Claim(
            order_id=_id(ORDER_OF[key]),
            patient_id=patient.id,
            institution_id=institution.id,
            store_id=courier.store_id,
            disease_id=disease.id,
            insurance_type=identity.insurance_type,
            insured_identity_id=identity.id,
            moment=moment,
            items=tuple(
                ClaimItem(
                    drug_id=drugs[code].id,
                    national_code=code,
                    name_zh=drugs[code].generic_name_zh,
                    quantity=quantity,
                    unit_price_fen=drugs[code].price_fen,
                    insurance_class=drugs[code].insurance_class,
                )
                for code, quantity in lines
            ),
            personal_account_balance_fen=balance,
        )
        with frozen_at(moment):
            settled[key] = await settlement_service.settle(session, claim, f"demo-{key}")
        if key == FAILED[0]:
            with frozen_at(FAILED[1]):
                reversal = await settlement_service.reverse(
                    session, settled[key].id, FAILED[2], f"demo-{key}-reversal"
                )
    assert reversal is not None
    for key, method in PAYMENTS:
        row = settled[key]
        with frozen_at(row.settled_at):
            await payment_service.record_hand_over(
                session,
                courier,
                row,
                HandOverPayment(
                    method=method,
                    amount_fen=row.cash_fen,
                    collection_id=_id(f"collect-{key}"),
                ),
            )
    with frozen_at(datetime(2026, 4, 2, 1, tzinfo=UTC)):
        statement = await statement_service.generate(session, bureau, institution.id, MONTH)
        statement = await statement_service.confirm(session, bureau, statement.id)
    with frozen_at(datetime(2026, 4, 15, 2, tzinfo=UTC)):
        statement = await statement_service.record_payment(
            session,
            bureau,
            statement.id,
            statement.fund_fen + statement.account_fen,
            "DEMO-YB-202603-H14030200001",
            date(2026, 4, 15),
        )
    return DemoMonth(settled, reversal, statement)


async def load_benefit_rules(session: AsyncSession) -> int:
    """Ensure the demo benefit rules exist (version 1 from 1 January) for 2026, the demo month's
    year, and for the current year with the same terms, so orders settle whenever the demo runs;
    rows inserted."""
    diseases = {d.code: d.id for d in await every_row(session, ChronicDisease)}
    created = 0
    for item in data.BENEFIT_RULES:
        for year in sorted({item.year, city_date().year}):
            found = await first_by(
                session,
                BenefitRule,
                insurance_type=item.insurance_type,
                disease_id=diseases[item.disease_code],
                institution_level=item.institution_level,
                year=year,
                version=1,
            )
            if found is None:
                session.add(
                    BenefitRule(
                        insurance_type=item.insurance_type,
                        disease_id=diseases[item.disease_code],
                        institution_level=item.institution_level,
                        year=year,
                        version=1,
                        effective_from=date(year, 1, 1),
                        deductible_fen=item.deductible_fen,
                        reimbursement_bp=item.reimbursement_bp,
                        partial_prepay_bp=item.partial_prepay_bp,
                        note="DEMO DATA",
                    )
                )
                created += 1
    await session.flush()
    return created
