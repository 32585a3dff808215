"""Doctor endpoints: public profiles with presence, a doctor's own hours, admin changes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.doctor import service as doctor_service
from app.doctor.schemas import (
    DoctorOut,
    DoctorUpdate,
    PresenceOut,
    WorkingHoursIn,
    WorkingHoursOut,
)
from app.doctor.service import DoctorView
from app.kit.pagination import Page, PageQuery
from app.models import Role

router = APIRouter(prefix="/api/v1/doctors", tags=["doctors"])

DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
Admin = Annotated[Principal, require_roles(Role.admin)]


def doctor_out(view: DoctorView) -> DoctorOut:
    """The public body of a doctor."""
    d = view.doctor
    return DoctorOut(
        id=d.id,
        name=d.name,
        institution_id=d.institution_id,
        department_zh=d.department_zh,
        title_zh=d.title_zh,
        specialties=list(d.specialties),
        max_active_patients=d.max_active_patients,
        active_patients=view.load.active_patients if view.load else 0,
        waiting_consultations=view.load.waiting_consultations if view.load else 0,
        presence=PresenceOut(status=view.presence, expires_at=view.presence_expires_at),
        working_hours=[WorkingHoursOut.model_validate(h) for h in view.working_hours],
    )


@router.get("", response_model=Page[DoctorOut])
async def list_doctors(
    _: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    institution_id: uuid.UUID | None = None,
) -> Page[DoctorOut]:
    """Doctors with their presence, load and working hours, by id."""
    resume = page.after(uuid.UUID)
    views = await doctor_service.list_doctors(
        session, institution_id, resume[0] if resume else None, page.limit
    )
    return page.page([doctor_out(v) for v in views], lambda d: (d.id,))


@router.get("/me", response_model=DoctorOut)
async def get_my_doctor_profile(principal: DoctorOnly, session: DbSession) -> DoctorOut:
    """The signed-in doctor's own profile."""
    assert principal.doctor_id is not None
    return doctor_out(await doctor_service.get_doctor(session, principal.doctor_id))


@router.put("/me/working-hours", response_model=DoctorOut)
async def set_my_working_hours(
    principal: DoctorOnly,
    session: DbSession,
    slots: Annotated[list[WorkingHoursIn], Body(max_length=50)],
) -> DoctorOut:
    """Replace the doctor's weekly working hours (city time)."""
    assert principal.doctor_id is not None
    return doctor_out(await doctor_service.set_working_hours(session, principal.doctor_id, slots))


@router.get("/{doctor_id}", response_model=DoctorOut)
async def get_doctor(doctor_id: uuid.UUID, _: CurrentPrincipal, session: DbSession) -> DoctorOut:
    """One doctor's public profile."""
    return doctor_out(await doctor_service.get_doctor(session, doctor_id))


@router.put("/{doctor_id}", response_model=DoctorOut, operation_id="update_doctor_put")
@router.patch("/{doctor_id}", response_model=DoctorOut)
async def update_doctor(
    doctor_id: uuid.UUID, body: DoctorUpdate, _: Admin, session: DbSession
) -> DoctorOut:
    """Change a doctor's department, title, specialties or capacity (admin)."""
    return doctor_out(await doctor_service.update_doctor(session, doctor_id, body))
