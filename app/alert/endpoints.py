"""Alert endpoints: doctors list and acknowledge their patients' alerts; patients see their own."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request

from app.alert import service as alert_service
from app.alert.schemas import AlertOut, AlertPage
from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.kit.pagination import PageQuery
from app.models import Role

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]


@router.get("", response_model=AlertPage)
async def list_alerts(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    unacknowledged: bool = True,
    patient_id: uuid.UUID | None = None,
) -> AlertPage:
    """Alerts of my patients (doctor) or my own (patient), newest first."""
    resume = page.after(datetime)
    items = await alert_service.list_alerts(
        session,
        principal,
        unacknowledged_only=unacknowledged,
        patient_id=patient_id,
        before=resume[0] if resume else None,
        limit=page.limit,
    )
    return page.page_as(AlertPage, items, lambda a: (a.raised_at,))


@router.post("/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge_alert(
    alert_id: uuid.UUID, principal: DoctorOnly, session: DbSession, request: Request
) -> AlertOut:
    """Mark an alert of my patient as seen (the patient's other doctors are told)."""
    return await alert_service.acknowledge(session, principal, request.app.state.hub, alert_id)
