"""Demo insured identities: each demo patient declares the identity in the demo data, and a
bureau clerk verifies it through the same service the verification endpoint uses (audited, and
bound to the patient's entitlements), so the demo's orders can be settled."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.demo import data
from app.identity import repository as identity_repository
from app.identity import service as identity_service
from app.identity.sources import InsuranceType, staff_attestation
from app.kit.clock import utcnow
from app.kit.crypto import blind_index
from app.kit.repository import first_by
from app.models import Account, IdentityDeclaration, Patient, Role

# DEMO DATA: every demo patient is insured in Yangquan (参保地 140300); employees (310) have
# this much in their personal account (个人账户).
INSURED_AREA = "140300"
EMPLOYEE_ACCOUNT_FEN = 120_000
CLERK = "bureau.wang"
_NAMESPACE = uuid.UUID("0b8f4a4e-3c1d-4f7a-9e55-5d2b8c6a9f10")


async def bureau_clerk(session: AsyncSession) -> Principal:
    """The demo bureau clerk who verifies identities."""
    account = await first_by(session, Account, username=CLERK)
    assert account is not None, "load the demo staff first"
    return Principal(
        account_id=account.id,
        session_id=uuid.uuid5(_NAMESPACE, CLERK),
        role=Role.bureau,
        display_name=account.display_name,
    )


async def declare_and_verify(
    session: AsyncSession,
    clerk: Principal,
    patient_id: uuid.UUID,
    national_id: str,
    insurance_type: InsuranceType,
) -> None:
    """The patient's declaration of an identity insured in Yangquan, 90 days ago, and the
    clerk's verification of it (bound to the patient's entitlements)."""
    session.add(
        IdentityDeclaration(
            patient_id=patient_id,
            national_id=national_id,
            national_id_index=blind_index(session, national_id),
            insurance_type=insurance_type,
            insured_area=INSURED_AREA,
            declared_at=utcnow() - timedelta(days=90),
        )
    )
    employee = insurance_type == "310"
    record = staff_attestation(
        national_id=national_id,
        insurance_type=insurance_type,
        insured_area=INSURED_AREA,
        personal_account=employee,
        personal_account_balance_fen=EMPLOYEE_ACCOUNT_FEN if employee else 0,
        reference="演示：社保卡核验",
    )
    await identity_service.record_verified(session, clerk, patient_id, record)


async def load_demo_identities(session: AsyncSession, patients: dict[str, Patient]) -> int:
    """Declare and verify each demo patient's identity once (idempotent); rows created."""
    clerk = await bureau_clerk(session)
    created = 0
    for item in data.PATIENTS:
        patient = patients[item.wechat_openid]
        if await identity_repository.current_identity(session, patient.id) is not None:
            continue
        await declare_and_verify(
            session,
            clerk,
            patient.id,
            item.national_id,
            item.insurance_type,  # type: ignore[arg-type]
        )
        created += 2
    await session.flush()
    return created
