"""Mounts every domain router on the application."""

from __future__ import annotations

from fastapi import FastAPI

from app.alert.endpoints import router as alert_router
from app.analytics.endpoints import router as analytics_router
from app.assignment.endpoints import router as assignment_router
from app.auth.endpoints import router as auth_router
from app.care.endpoints import router as care_router
from app.care.plan_endpoints import router as care_plan_router
from app.catalogue.endpoints import router as catalogue_router
from app.chat.endpoints import router as chat_router
from app.device.endpoints import router as device_router
from app.doctor.endpoints import router as doctor_router
from app.ecg.endpoints import router as ecg_router
from app.enrollment.endpoints import router as enrollment_router
from app.health.endpoints import router as health_router
from app.identity.endpoints import router as identity_router
from app.insurance.endpoints import router as insurance_router
from app.insurance_platform.endpoints import router as platform_router
from app.nightscout.endpoints import router as nightscout_router
from app.notify.endpoints import router as notify_router
from app.patient.endpoints import router as patient_router
from app.payment.endpoints import router as payment_router
from app.payment.reconciliation_endpoints import router as reconciliation_router
from app.pharmacy.dashboard import router as dashboard_router
from app.pharmacy.delivery.endpoints import router as delivery_router
from app.pharmacy.endpoints import router as pharmacy_router
from app.pharmacy.returns.endpoints import router as quality_return_router
from app.prescription.endpoints import router as prescription_router
from app.prescription.key_endpoints import router as signing_key_router
from app.reading.endpoints import router as reading_router
from app.realtime.gateway import router as realtime_router
from app.reference.endpoints import router as reference_router
from app.staff.endpoints import router as staff_router


def include_routers(app: FastAPI) -> None:
    """Every public endpoint of the service. Each request is matched against the routes in
    this order (FastAPI tries them one by one, ~2 us each), so the routers the pilot calls most
    come first: phones' reading uploads (~100/s at 30,000 patients), token refreshes, chat,
    couriers' positions, charts and summaries, alerts. No route shadows another's
    (tests/test_routing.py), so the order decides only how many routes are tried."""
    app.include_router(reading_router)
    app.include_router(auth_router)
    app.include_router(chat_router)
    app.include_router(delivery_router)
    app.include_router(analytics_router)
    app.include_router(alert_router)
    app.include_router(health_router)
    app.include_router(identity_router)
    app.include_router(patient_router)
    app.include_router(reference_router)
    app.include_router(staff_router)
    app.include_router(device_router)
    app.include_router(notify_router)
    app.include_router(nightscout_router)
    app.include_router(ecg_router)
    app.include_router(catalogue_router)
    app.include_router(enrollment_router)
    app.include_router(doctor_router)
    app.include_router(assignment_router)
    app.include_router(care_router)
    app.include_router(care_plan_router)
    app.include_router(insurance_router)
    app.include_router(reconciliation_router)
    app.include_router(platform_router)
    app.include_router(payment_router)
    app.include_router(prescription_router)
    app.include_router(signing_key_router)
    app.include_router(pharmacy_router)
    app.include_router(quality_return_router)
    app.include_router(dashboard_router)
    app.include_router(realtime_router)
