"""SQL for doctors, their working hours, presence and load counters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    Update,
    bindparam,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Doctor, DoctorLoad, DoctorPresence, DoctorWorkingHours


def _not_negative(value: ColumnElement[int]) -> ColumnElement[int]:
    return case((value < 0, 0), else_=value)


def _upsert(session: AsyncSession, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def get_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> Doctor | None:
    """A doctor by id."""
    return await session.get(Doctor, doctor_id)


async def lock_doctor(session: AsyncSession, doctor_id: uuid.UUID) -> Doctor | None:
    """The doctor row, locked until the transaction ends (serialises capacity decisions)."""
    return await session.scalar(
        select(Doctor)
        .where(Doctor.id == doctor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def list_doctors(
    session: AsyncSession, institution_id: uuid.UUID | None, after_id: uuid.UUID | None, limit: int
) -> Sequence[Doctor]:
    """Doctors (optionally of one institution), by id."""
    statement = select(Doctor)
    if institution_id is not None:
        statement = statement.where(Doctor.institution_id == institution_id)
    if after_id is not None:
        statement = statement.where(Doctor.id > after_id)
    return (await session.scalars(statement.order_by(Doctor.id).limit(limit))).all()


async def working_hours_of(
    session: AsyncSession, doctor_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[DoctorWorkingHours]]:
    """Working hours by doctor, by weekday and start."""
    found: dict[uuid.UUID, list[DoctorWorkingHours]] = {d: [] for d in doctor_ids}
    if not doctor_ids:
        return found
    rows = await session.scalars(
        select(DoctorWorkingHours)
        .where(DoctorWorkingHours.doctor_id.in_(list(doctor_ids)))
        .order_by(DoctorWorkingHours.weekday, DoctorWorkingHours.starts_at)
    )
    for row in rows:
        found[row.doctor_id].append(row)
    return found


async def replace_working_hours(
    session: AsyncSession, doctor_id: uuid.UUID, slots: Sequence[dict[str, Any]]
) -> None:
    """Replace the doctor's whole week, under the doctor's row lock: a concurrent replacement
    waits and then deletes this one's rows, instead of both adding a week."""
    await lock_doctor(session, doctor_id)
    await session.execute(
        delete(DoctorWorkingHours).where(DoctorWorkingHours.doctor_id == doctor_id)
    )
    if slots:
        await session.execute(
            insert(DoctorWorkingHours),
            [{"id": uuid.uuid4(), "doctor_id": doctor_id, **slot} for slot in slots],
        )


async def presence_of(
    session: AsyncSession, doctor_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DoctorPresence]:
    """Stored presence rows by doctor (expired ones included)."""
    if not doctor_ids:
        return {}
    rows = await session.scalars(
        select(DoctorPresence).where(DoctorPresence.doctor_id.in_(list(doctor_ids)))
    )
    return {row.doctor_id: row for row in rows}


async def save_presence(
    session: AsyncSession,
    doctor_id: uuid.UUID,
    status: str,
    expires_at: datetime,
    now: datetime,
    connection_id: uuid.UUID | None,
) -> None:
    """Insert or overwrite the doctor's presence."""
    values = {
        "status": status,
        "expires_at": expires_at,
        "updated_at": now,
        "connection_id": connection_id,
    }
    statement = _upsert(session, DoctorPresence).values(doctor_id=doctor_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["doctor_id"], set_=values)
    )


async def lapsed_presence(session: AsyncSession, now: datetime) -> Sequence[uuid.UUID]:
    """Doctors still marked online or busy whose presence has expired (the app went silent)."""
    rows = await session.scalars(
        select(DoctorPresence.doctor_id)
        .where(DoctorPresence.status != "offline", DoctorPresence.expires_at <= now)
        .with_for_update(skip_locked=True)
    )
    return rows.all()


async def loads_of(
    session: AsyncSession, doctor_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, DoctorLoad]:
    """Load counters by doctor."""
    if not doctor_ids:
        return {}
    rows = await session.scalars(
        select(DoctorLoad).where(DoctorLoad.doctor_id.in_(list(doctor_ids)))
    )
    return {row.doctor_id: row for row in rows}


async def save_load(
    session: AsyncSession, doctor_id: uuid.UUID, active_patients: int, waiting: int
) -> None:
    """Set the doctor's load counters (callers hold the doctor's row lock)."""
    values = {"active_patients": active_patients, "waiting_consultations": waiting}
    statement = _upsert(session, DoctorLoad).values(doctor_id=doctor_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["doctor_id"], set_=values)
    )


def _take_place_statement() -> Update:
    # On the table, not the ORM entity: no session holds counter objects across it, and the
    # ORM's bulk-update machinery (synchronising the session) would double its cost.
    loads, doctors = cast(Table, DoctorLoad.__table__), cast(Table, Doctor.__table__)
    capacity = (
        select(doctors.c.max_active_patients)
        .where(doctors.c.id == loads.c.doctor_id)
        .scalar_subquery()
    )
    return (
        update(loads)
        .where(loads.c.doctor_id == bindparam("doctor"), loads.c.active_patients < capacity)
        .values(active_patients=loads.c.active_patients + 1)
        .returning(loads.c.active_patients)
    )


# Built once (the assignment path runs it on every request): SQLAlchemy then finds its
# compiled form without building and keying the expression again.
_TAKE_PLACE = _take_place_statement()


async def take_place(session: AsyncSession, doctor_id: uuid.UUID) -> int | None:
    """Count one more active patient for the doctor if the counter shows room, locking the
    counter row until the transaction ends; the new count. None, with no row locked, if it
    shows no room (or the doctor has no counter row)."""
    place = await session.scalar(_TAKE_PLACE, {"doctor": doctor_id})
    return None if place is None else int(place)


async def lock_load(session: AsyncSession, doctor_id: uuid.UUID) -> None:
    """Lock the doctor's load counters (if they have them) until the transaction ends."""
    await session.execute(
        select(DoctorLoad.doctor_id).where(DoctorLoad.doctor_id == doctor_id).with_for_update()
    )


async def add_load(session: AsyncSession, doctor_id: uuid.UUID) -> bool:
    """Give the doctor zeroed load counters; False if they already have them."""
    statement = _upsert(session, DoctorLoad).values(
        doctor_id=doctor_id, active_patients=0, waiting_consultations=0
    )
    result = await session.execute(statement.on_conflict_do_nothing(index_elements=["doctor_id"]))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def change_active_patients(session: AsyncSession, doctor_id: uuid.UUID, delta: int) -> None:
    """Move the doctor's active-patient counter by `delta` (never below zero)."""
    await session.execute(
        update(DoctorLoad)
        .where(DoctorLoad.doctor_id == doctor_id)
        .values(active_patients=_not_negative(DoctorLoad.active_patients + delta))
    )
