"""Access policy of prescriptions, pharmacy orders and delivery.

Doctors write, hospital pharmacists review, patients order; store staff (pharmacists, couriers)
see only orders routed to their store, couriers act only on deliveries assigned to them. Someone
else's prescription or order is 404 for every role that may call the route.
"""

from __future__ import annotations

import uuid

from app.kit.clock import utcnow
from app.models import (
    Entitlement,
    PharmacyOrder,
    Prescription,
    QualityReturn,
    Role,
)
from tests.access.rules import ALL, PUBLIC, Rule, only
from tests.fixtures import factories
from tests.prescription.world import entitle

PATIENT = only(Role.patient)
DOCTOR = only(Role.doctor)
PHARMACIST = only(Role.pharmacist)
ADMIN = only(Role.admin)
READERS = only(Role.patient, Role.doctor, Role.pharmacist)
ORDER_READERS = only(Role.patient, Role.pharmacist, Role.courier)
STAFF = only(Role.pharmacist, Role.courier)

RX = "/api/v1/prescriptions/{prescription_id}"
ORDER = "/api/v1/orders/{order_id}"
RETURN = "/api/v1/quality-returns/{return_id}"
RETURN_OPENERS = only(Role.patient, Role.pharmacist)

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/formulary/{disease_id}"): Rule(ALL),
    ("PUT", "/api/v1/formulary/{disease_id}/drugs/{drug_id}"): Rule(ADMIN),
    ("POST", "/api/v1/prescription-reviewers"): Rule(ADMIN),
    ("POST", "/api/v1/prescriptions"): Rule(DOCTOR),
    ("GET", "/api/v1/prescriptions"): Rule(READERS),
    ("GET", RX): Rule(READERS, hidden=True),
    ("POST", RX + "/sign"): Rule(DOCTOR, hidden=True),
    ("POST", RX + "/revise"): Rule(DOCTOR, hidden=True),
    ("POST", RX + "/approve"): Rule(PHARMACIST, hidden=True),
    ("POST", RX + "/reject"): Rule(PHARMACIST, hidden=True),
    ("POST", RX + "/revoke"): Rule(DOCTOR, hidden=True),
    ("POST", RX + "/renewals"): Rule(DOCTOR, hidden=True),
    ("GET", RX + "/store-proposals"): Rule(PATIENT, hidden=True),
    ("POST", "/api/v1/orders"): Rule(PATIENT),
    ("GET", "/api/v1/orders"): Rule(ORDER_READERS),
    ("GET", ORDER): Rule(ORDER_READERS, hidden=True),
    ("POST", ORDER + "/accept"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/cancel"): Rule(only(Role.patient, Role.pharmacist), hidden=True),
    ("POST", ORDER + "/scans"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/pick"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/dispatch"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/location"): Rule(only(Role.courier), hidden=True),
    ("POST", ORDER + "/temperatures"): Rule(only(Role.courier), hidden=True),
    ("POST", ORDER + "/handover"): Rule(STAFF, hidden=True),
    ("POST", ORDER + "/handover-code"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/complete"): Rule(STAFF, hidden=True),
    ("POST", ORDER + "/fail"): Rule(STAFF, hidden=True),
    ("POST", ORDER + "/return"): Rule(STAFF, hidden=True),
    ("POST", ORDER + "/returned"): Rule(PHARMACIST, hidden=True),
    ("POST", ORDER + "/quality-returns"): Rule(RETURN_OPENERS, hidden=True, body={"reason": "x"}),
    ("GET", "/api/v1/quality-returns"): Rule(RETURN_OPENERS),
    ("GET", RETURN): Rule(RETURN_OPENERS, hidden=True),
    ("POST", RETURN + "/accept"): Rule(PHARMACIST, hidden=True),
    ("POST", RETURN + "/reject"): Rule(PHARMACIST, hidden=True, body={"reason": "x"}),
    ("POST", RETURN + "/withdraw"): Rule(PATIENT, hidden=True),
    ("POST", RETURN + "/boxes"): Rule(PHARMACIST, hidden=True, body={"codes": ["0" * 20]}),
    ("POST", RETURN + "/complete"): Rule(PHARMACIST, hidden=True),
    ("GET", "/api/v1/pharmacy/stock"): Rule(PHARMACIST),
    ("PUT", "/api/v1/pharmacy/stock/{drug_id}"): Rule(PHARMACIST),
    ("GET", "/api/v1/pharmacy/couriers"): Rule(PHARMACIST),
    ("GET", "/api/v1/pharmacy/store"): Rule(STAFF),
    ("PUT", "/api/v1/pharmacy/stores/{store_id}/integration"): Rule(ADMIN),
    # Authenticated by the partner's HMAC signature, not by a bearer token.
    ("POST", "/api/v1/partner/stores/{store_id}/callbacks"): PUBLIC,
    # The dashboard page and its assets; the data behind it needs a store staff sign-in.
    ("GET", "/dashboard"): PUBLIC,
    ("GET", "/dashboard/assets/{name}"): PUBLIC,
}


async def foreign_ids(session) -> dict[str, str]:
    """A signed prescription and its order between strangers, at a store nobody calling works at."""
    patient_account = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, patient_account)
    doctor_account = await factories.account(session, Role.doctor)
    doctor = await factories.doctor_of(session, doctor_account)
    await factories.care(session, patient, doctor)
    disease = await factories.disease(session, code=f"MX{uuid.uuid4().hex[:6]}")
    entitlement: Entitlement = await entitle(session, patient, disease, doctor.institution_id)
    today = entitlement.valid_from
    prescription = Prescription(
        patient_id=patient.id,
        doctor_id=doctor.id,
        institution_id=doctor.institution_id,
        disease_id=disease.id,
        entitlement_id=entitlement.id,
        status="approved",
        diagnosis_zh="复诊",
        written_on=today,
        valid_days=1,
        days_supply=7,
        total_fen=0,
    )
    session.add(prescription)
    await session.flush()
    store = await factories.store(session)
    order = PharmacyOrder(
        prescription_id=prescription.id,
        patient_id=patient.id,
        store_id=store.id,
        fulfilment="delivery",
        status="created",
        total_fen=0,
        idempotency_key="foreign",
        district_code="140302",
        destination_lat=37.85,
        destination_lng=113.58,
        updated_at=utcnow(),
    )
    session.add(order)
    await session.flush()
    quality_return = QualityReturn(
        order_id=order.id,
        patient_id=patient.id,
        store_id=store.id,
        status="requested",
        reason="foreign",
        opened_by_role="patient",
        opened_by_account_id=patient_account.id,
        updated_at=utcnow(),
    )
    session.add(quality_return)
    await session.flush()
    return {
        "return_id": str(quality_return.id),
        "prescription_id": str(prescription.id),
        "order_id": str(order.id),
        "disease_id": str(disease.id),
        "store_id": str(store.id),
        "name": "dashboard.js",
    }
