"""SQL for analytics: numeric series for a patient, day rollups, and the panel's aggregates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    select,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import bp
from app.analytics.cgm import BAND_EDGES, BANDS
from app.authz.scopes import doctor_patient_ids
from app.config import Settings
from app.kit.sql import one_of
from app.kit.types import UTCDateTime
from app.models import BpSleepPeriod, CgmDaily, Patient, Reading


def _epoch(session: AsyncSession) -> ColumnElement[float]:
    # Seconds since 1970 as a float straight from the database: no datetime object per row.
    if session.get_bind().dialect.name == "postgresql":
        return func.date_part("epoch", Reading.measured_at)
    return (func.julianday(Reading.measured_at) - 2440587.5) * 86400.0


Columns = tuple[list[float], list[float], list[float | None], list[float | None], list[float]]


async def columns(
    session: AsyncSession,
    patient_id: uuid.UUID,
    kind: str,
    start: datetime,
    end: datetime,
    default_interval: int,
) -> Columns:
    """A patient's readings of a kind in [start, end), oldest first, as columns: epoch seconds,
    value, value2, value3 and sample interval (the default where the reading has none)."""
    found = await columns_by_patient(session, [patient_id], kind, start, end, default_interval)
    return found.get(patient_id, ([], [], [], [], []))


async def columns_by_patient(
    session: AsyncSession,
    patient_ids: Sequence[uuid.UUID],
    kind: str,
    start: datetime,
    end: datetime,
    default_interval: int,
) -> dict[uuid.UUID, Columns]:
    """`columns` for several patients in one query (patients without readings are absent)."""
    interval = func.coalesce(Reading.sample_interval_seconds, default_interval)
    selected = (_epoch(session), Reading.value, Reading.value2, Reading.value3, interval)
    where = (
        Reading.patient_id.in_(patient_ids),
        Reading.kind == kind,
        Reading.measured_at >= start,
        Reading.measured_at < end,
    )
    if session.get_bind().dialect.name == "postgresql":
        # One row of five arrays per patient: asyncpg decodes arrays in C, where 20,000 rows
        # would cost a Python object per value and row.
        aggregated = [func.array_agg(aggregate_order_by(c, Reading.measured_at)) for c in selected]
        statement = select(Reading.patient_id, *aggregated).where(*where)
        rows = await session.execute(statement.group_by(Reading.patient_id))
        return {row[0]: tuple(list(c) for c in row[1:]) for row in rows}  # type: ignore[misc]
    ordered = select(Reading.patient_id, *selected).where(*where)
    grouped: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
    for row in await session.execute(ordered.order_by(Reading.patient_id, Reading.measured_at)):
        grouped.setdefault(row[0], []).append(tuple(row[1:]))
    return {
        patient_id: tuple(list(c) for c in zip(*rows, strict=True))  # type: ignore[misc]
        for patient_id, rows in grouped.items()
    }


@dataclass(frozen=True)
class RollupDay:
    """A patient's local day to roll up: its readings are those measured in [start, end)
    (today's end is now), weighed with the readings up to `weighed_until`."""

    patient_id: uuid.UUID
    local_date: date
    start: datetime
    end: datetime
    weighed_until: datetime


_DAY_COLUMNS = (
    column("patient_id", Uuid),
    column("local_date", Date),
    column("day_start", UTCDateTime()),
    column("day_end", UTCDateTime()),
    column("weighed_until", UTCDateTime()),
)


def _listed_days(session: AsyncSession, days: Sequence[RollupDay]) -> CTE:
    rows = [(d.patient_id, d.local_date, d.start, d.end, d.weighed_until) for d in days]
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter per column: the statement is the same whatever the count.
        arrays = [
            bindparam(f"day_{c.name}", [row[n] for row in rows], type_=postgresql.ARRAY(c.type))
            for n, c in enumerate(_DAY_COLUMNS)
        ]
        unnested = func.unnest(*arrays).table_valued(*_DAY_COLUMNS).render_derived(name="days")
        return select(unnested).cte("listed")
    return values(*_DAY_COLUMNS, name="days").data(rows).cte("listed")


async def refresh_daily(
    session: AsyncSession, days: Sequence[RollupDay], default_interval: int, computed_at: datetime
) -> None:
    """Recompute these CGM day rollups from the readings, in one statement for all of them.

    The sums are those of `app.analytics.cgm.accumulate` over each day's readings, each
    reading weighted up to the next one and at most its sample interval; a day's readings are
    read by one index range scan, with the first readings after it that can weigh its last.
    Readings are never deleted, so a day that has a rollup still has readings and gets its row
    replaced; days without readings get none. Rows are written in key order, so that two
    refreshes of the same patients lock them in the same order."""
    if not days:
        return
    listed = _listed_days(session, days)
    epoch = _epoch(session)
    day = (listed.c.patient_id, listed.c.local_date)
    timed = (
        select(
            listed.c.patient_id,
            listed.c.local_date,
            listed.c.day_end,
            Reading.measured_at,
            Reading.value,
            (func.lead(epoch).over(partition_by=day, order_by=Reading.measured_at) - epoch).label(
                "gap"
            ),
            func.coalesce(Reading.sample_interval_seconds, default_interval).label("interval"),
        )
        .join_from(
            listed,
            Reading,
            and_(
                Reading.patient_id == listed.c.patient_id,
                Reading.kind == "cgm",
                Reading.measured_at >= listed.c.day_start,
                Reading.measured_at < listed.c.weighed_until,
            ),
        )
        .subquery("timed")
    )
    # The last reading (no next one) stands for its whole interval.
    span = case((timed.c.gap < timed.c.interval, timed.c.gap), else_=timed.c.interval)
    band = case(
        *((timed.c.value < float(edge), index) for index, edge in enumerate(BAND_EDGES)),
        else_=len(BAND_EDGES),
    )
    count, total = func.count(), func.sum(timed.c.value)
    sums = (
        select(
            timed.c.patient_id,
            timed.c.local_date,
            count,
            total,
            # Squared deviations from the day's mean, from the sum of squares: within one day of
            # glucose values this keeps 11 or more significant digits.
            func.sum(timed.c.value * timed.c.value) - total * total / count,
            func.sum(span),
            *(func.sum(case((band == index, span), else_=0.0)) for index in range(len(BANDS))),
            literal(computed_at, UTCDateTime()),
        )
        # Readings after the day only weigh its last one. (A WHERE clause also lets SQLite read
        # the ON CONFLICT below as the upsert's.)
        .where(timed.c.measured_at < timed.c.day_end)
        .group_by(timed.c.patient_id, timed.c.local_date)
        .order_by(timed.c.patient_id, timed.c.local_date)
    )
    names = [c.name for c in CgmDaily.__table__.columns]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(CgmDaily).from_select(names, sums)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["patient_id", "local_date"],
            set_={
                name: getattr(statement.excluded, name)
                for name in names
                if name not in ("patient_id", "local_date")
            },
        )
    )


async def timezones(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Each patient's time zone."""
    rows = await session.execute(
        select(Patient.id, Patient.timezone).where(Patient.id.in_(patient_ids))
    )
    return {row[0]: row[1] for row in rows}


async def period_totals(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], first: date, last: date
) -> dict[uuid.UUID, tuple[Any, ...]]:
    """Each patient's CGM rollups of local dates [first, last] added up in SQL: (readings,
    value sum, squared deviations, covered seconds, five band seconds, days with data)."""
    days = CgmDaily.readings > 0
    # Squared deviations merge across days as sum(M2_d) + sum(S_d^2 / n_d) - S^2 / N.
    merged_m2 = (
        func.sum(CgmDaily.squared_deviations)
        + func.sum(CgmDaily.value_sum * CgmDaily.value_sum / CgmDaily.readings)
        - func.sum(CgmDaily.value_sum) * func.sum(CgmDaily.value_sum) / func.sum(CgmDaily.readings)
    )
    result = await session.execute(
        select(
            CgmDaily.patient_id,
            func.sum(CgmDaily.readings),
            func.sum(CgmDaily.value_sum),
            merged_m2,
            func.sum(CgmDaily.covered_seconds),
            func.sum(CgmDaily.very_low_seconds),
            func.sum(CgmDaily.low_seconds),
            func.sum(CgmDaily.in_range_seconds),
            func.sum(CgmDaily.high_seconds),
            func.sum(CgmDaily.very_high_seconds),
            func.count(),
        )
        .where(
            one_of(session, CgmDaily.patient_id, patient_ids),
            CgmDaily.local_date >= first,
            CgmDaily.local_date <= last,
            days,
        )
        .group_by(CgmDaily.patient_id)
    )
    return {row[0]: tuple(row[1:]) for row in result}


@dataclass(frozen=True)
class BpRows:
    """A patient's BP readings, oldest first, as columns."""

    epochs: list[float]
    systolic: list[float]
    diastolic: list[float | None]
    pulse: list[float | None]
    settings: list[str | None]
    awake: list[bool | None]


async def bp_readings(
    session: AsyncSession, patient_id: uuid.UUID, start: datetime, end: datetime
) -> BpRows:
    """A patient's BP readings in [start, end), oldest first."""
    result = await session.execute(
        select(
            _epoch(session),
            Reading.value,
            Reading.value2,
            Reading.value3,
            Reading.setting,
            Reading.awake,
        )
        .where(
            Reading.patient_id == patient_id,
            Reading.kind == "bp",
            Reading.measured_at >= start,
            Reading.measured_at < end,
        )
        .order_by(Reading.measured_at, Reading.device_id)
    )
    rows = result.all()
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(6)]
    return BpRows(*columns)


async def sleep_periods(
    session: AsyncSession, patient_id: uuid.UUID, start: datetime, end: datetime
) -> Sequence[BpSleepPeriod]:
    """A patient's diary sleep periods that overlap [start, end), by bed time."""
    return (
        await session.scalars(
            select(BpSleepPeriod)
            .where(
                BpSleepPeriod.patient_id == patient_id,
                BpSleepPeriod.rise_at > start,
                BpSleepPeriod.bed_at < end,
            )
            .order_by(BpSleepPeriod.bed_at)
        )
    ).all()


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> None:
    """Hold the patient's row until the transaction ends (PostgreSQL; SQLite has one writer):
    diary writes of one patient check for overlaps one at a time."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())


async def sleep_period_at(
    session: AsyncSession, patient_id: uuid.UUID, bed_at: datetime
) -> BpSleepPeriod | None:
    """The patient's sleep period that starts at `bed_at`, if any."""
    return await session.scalar(
        select(BpSleepPeriod).where(
            BpSleepPeriod.patient_id == patient_id, BpSleepPeriod.bed_at == bed_at
        )
    )


async def bp_means(
    session: AsyncSession,
    patient_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    settings: Settings,
) -> dict[uuid.UUID, tuple[int, int, float | None, float | None]]:
    """(valid count, excluded count, mean systolic, mean diastolic) of each patient's BP
    readings in [start, end); artefacts (`bp.plausible`) are counted, never averaged."""
    valid = bp.plausible(Reading.value, Reading.value2, settings)
    result = await session.execute(
        select(
            Reading.patient_id,
            func.count().filter(valid),
            func.count(),
            func.avg(Reading.value).filter(valid),
            func.avg(Reading.value2).filter(valid),
        )
        .where(
            one_of(session, Reading.patient_id, patient_ids),
            Reading.kind == "bp",
            Reading.measured_at >= start,
            Reading.measured_at < end,
        )
        .group_by(Reading.patient_id)
    )
    return {
        row[0]: (
            int(row[1]),
            int(row[2]) - int(row[1]),
            None if row[3] is None else float(row[3]),
            None if row[4] is None else float(row[4]),
        )
        for row in result
    }


async def doctor_patients(
    session: AsyncSession, doctor_id: uuid.UUID, now: datetime
) -> Sequence[Patient]:
    """The doctor's patients in active care."""
    return (
        await session.scalars(
            select(Patient).where(Patient.id.in_(doctor_patient_ids(doctor_id, now)))
        )
    ).all()
