"""Doctor rules: public profiles, working hours, and presence that expires when the app is
silent.

Presence lives in the database (`doctor_presence`), not in one process: the assignment engine
ranks doctors by it in the same query as their load, hand-overs happen in the same transaction
as the presence change, and every web process sees the same answer. A report lasts
PRESENCE_TTL_SECONDS; the app re-reports well within it, so a crashed process or a phone that
lost its network lapses to offline on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.doctor import repository as doctor_repository
from app.doctor.schemas import DoctorUpdate, WorkingHoursIn
from app.errors import Conflict, NotFound
from app.kit.clock import SHANGHAI, utcnow
from app.models import Doctor, DoctorLoad, DoctorPresence, DoctorWorkingHours

PRESENCE_STATES = ("online", "busy", "offline")


def effective_status(presence: DoctorPresence | None, now: datetime) -> str:
    """What a presence row means at `now`: its status until it expires, offline after."""
    if presence is None or presence.expires_at <= now:
        return "offline"
    return presence.status


def is_working(hours: list[DoctorWorkingHours], moment: datetime) -> bool:
    """Whether `moment` falls in one of the doctor's weekly slots (city time)."""
    local = moment.astimezone(SHANGHAI)
    clock = local.time().replace(tzinfo=None)
    return any(h.weekday == local.weekday() and h.starts_at <= clock < h.ends_at for h in hours)


def next_shift_start(hours: list[DoctorWorkingHours], moment: datetime) -> datetime | None:
    """When the doctor's next working slot starts after `moment` (within a week), if any."""
    local = moment.astimezone(SHANGHAI)
    starts = []
    for day in range(8):
        date = (local + timedelta(days=day)).date()
        for h in hours:
            if h.weekday == date.weekday():
                start = datetime.combine(date, h.starts_at, tzinfo=SHANGHAI)
                if start > local:
                    starts.append(start)
    return min(starts) if starts else None


@dataclass(frozen=True)
class DoctorView:
    """A doctor with presence, load and working hours."""

    doctor: Doctor
    presence: str
    presence_expires_at: datetime | None
    load: DoctorLoad | None
    working_hours: list[DoctorWorkingHours]


async def views_of(session: AsyncSession, doctors: list[Doctor]) -> list[DoctorView]:
    """Doctors with their live state."""
    ids = [d.id for d in doctors]
    presence = await doctor_repository.presence_of(session, ids)
    loads = await doctor_repository.loads_of(session, ids)
    hours = await doctor_repository.working_hours_of(session, ids)
    now = utcnow()
    views = []
    for doctor in doctors:
        row = presence.get(doctor.id)
        status = effective_status(row, now)
        expires = row.expires_at if row is not None and status != "offline" else None
        views.append(DoctorView(doctor, status, expires, loads.get(doctor.id), hours[doctor.id]))
    return views


async def get_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> DoctorView:
    """One doctor's profile; 404 if unknown."""
    doctor = await doctor_repository.get_doctor(session, doctor_id)
    if doctor is None:
        raise NotFound("doctor_not_found")
    return (await views_of(session, [doctor]))[0]


async def list_doctors(
    session: AsyncSession, institution_id: uuid.UUID | None, after_id: uuid.UUID | None, limit: int
) -> list[DoctorView]:
    """Doctors' public profiles."""
    doctors = list(await doctor_repository.list_doctors(session, institution_id, after_id, limit))
    return await views_of(session, doctors)


async def set_working_hours(
    session: AsyncSession, doctor_id: uuid.UUID, slots: list[WorkingHoursIn]
) -> DoctorView:
    """Replace the doctor's weekly hours; overlapping slots on a day are 409."""
    ordered = sorted(slots, key=lambda s: (s.weekday, s.starts_at))
    for before, after in pairwise(ordered):
        if before.weekday == after.weekday and after.starts_at < before.ends_at:
            raise Conflict("working_hours_overlap")
    if any(s.ends_at <= s.starts_at for s in slots):
        raise Conflict("working_hours_overlap")
    await doctor_repository.replace_working_hours(
        session, doctor_id, [s.model_dump() for s in ordered]
    )
    return await get_doctor(session, doctor_id)


async def update_doctor(
    session: AsyncSession, doctor_id: uuid.UUID, changes: DoctorUpdate
) -> DoctorView:
    """Change a doctor's profile or capacity (admin); capacity never below current care load."""
    doctor = await doctor_repository.lock_doctor(session, doctor_id)
    if doctor is None:
        raise NotFound("doctor_not_found")
    fields = changes.model_dump(exclude_unset=True, exclude_none=True)
    capacity = fields.get("max_active_patients")
    if capacity is not None:
        load = (await doctor_repository.loads_of(session, [doctor.id])).get(doctor.id)
        active = load.active_patients if load is not None else 0
        if capacity < active:
            raise Conflict("capacity_below_load", active=active)
    for name, value in fields.items():
        setattr(doctor, name, value)
    await session.flush()
    return await get_doctor(session, doctor_id)


async def report_presence(
    session: AsyncSession,
    settings: Settings,
    doctor_id: uuid.UUID,
    status: str,
    connection_id: uuid.UUID | None,
) -> tuple[str, datetime]:
    """Record what the doctor app reports; returns the previous effective status and expiry."""
    if status not in PRESENCE_STATES:
        raise Conflict("presence_status_invalid")
    now = utcnow()
    previous = effective_status(
        (await doctor_repository.presence_of(session, [doctor_id])).get(doctor_id), now
    )
    expires = now + timedelta(seconds=settings.presence_ttl_seconds)
    await doctor_repository.save_presence(session, doctor_id, status, expires, now, connection_id)
    return previous, expires


async def connection_closed(
    session: AsyncSession, doctor_id: uuid.UUID, connection_id: uuid.UUID
) -> bool:
    """The doctor app's socket closed: offline now if it was the connection that reported the
    presence (a newer connection of the same doctor keeps it). Whether they went offline."""
    now = utcnow()
    row = (await doctor_repository.presence_of(session, [doctor_id])).get(doctor_id)
    if row is None or row.connection_id != connection_id or effective_status(row, now) == "offline":
        return False
    await doctor_repository.save_presence(session, doctor_id, "offline", now, now, None)
    return True


async def lapse_silent_doctors(session: AsyncSession) -> list[uuid.UUID]:
    """Mark offline every doctor whose presence expired without a goodbye; their ids."""
    now = utcnow()
    lapsed = list(await doctor_repository.lapsed_presence(session, now))
    for doctor_id in lapsed:
        await doctor_repository.save_presence(session, doctor_id, "offline", now, now, None)
    return lapsed
