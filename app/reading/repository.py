"""SQL for readings: bulk idempotent inserts, the latest-reading table, and range scans."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, cast
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import (
    Integer,
    Select,
    Table,
    TextClause,
    and_,
    bindparam,
    func,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import driver_error
from app.device.schemas import MAX_INTERVAL_SECONDS
from app.kit.sql import one_of
from app.models import Alert, Device, Patient, Reading, ReadingLatest

Key = tuple[uuid.UUID, str, datetime]
COLUMNS = tuple(column.name for column in Reading.__table__.columns)


def key_of(row: dict[str, Any]) -> Key:
    """The idempotency key of a reading row: (device, kind, measured time)."""
    return (row["device_id"], row["kind"], row["measured_at"])


def _latest_update(current: str, new: str, least: str = "LEAST") -> str:
    # Each column moves on only with a newer reading; the stale mark keeps the earliest date.
    newer = f"{new}.measured_at > {current}.measured_at"
    moved = ", ".join(
        f"{c} = CASE WHEN {newer} THEN {new}.{c} ELSE {current}.{c} END"
        for c in ("measured_at", "utc_offset_minutes", "value", "value2", "value3", "flag")
    )
    return (
        f"{moved}, stale_from = CASE WHEN {new}.stale_from IS NULL THEN {current}.stale_from "
        f"WHEN {current}.stale_from IS NULL THEN {new}.stale_from "
        f"ELSE {least}({current}.stale_from, {new}.stale_from) END, "
        f"version = {current}.version + 1"
    )


@cache
def _store_statement() -> TextClause:
    # One statement and one round trip per batch, whatever its size: each column travels as one
    # array parameter (docs/decisions/0002-bulk-writes-executemany.md), a second data-modifying
    # CTE moves the latest-reading table on, and the answer is one row: the positions that were
    # not inserted (already stored), usually none.
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    arrays = ", ".join(
        f"CAST(:{c.name} AS {c.type.compile(dialect=dialect)}[])" for c in Reading.__table__.columns
    )
    shown = "measured_at, utc_offset_minutes, value, value2, value3, flag"
    columns = ", ".join(COLUMNS)
    return text(
        f"WITH batch AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY "  # noqa: S608
        f"AS u({columns}, n)), "
        f"new AS (INSERT INTO readings ({columns}) SELECT {columns} FROM batch "
        f"ON CONFLICT DO NOTHING RETURNING device_id, kind, patient_id, {shown}), "
        "latest AS (INSERT INTO reading_latest AS current "
        f"(patient_id, kind, {shown}, stale_from, version) "
        f"SELECT DISTINCT ON (kind) patient_id, kind, {shown}, "
        "CASE WHEN kind = 'cgm' THEN (SELECT ((min(measured_at) - make_interval(secs => "
        f"{MAX_INTERVAL_SECONDS})) AT TIME ZONE CAST(:timezone AS text))::date "
        "FROM new WHERE kind = 'cgm') END, 0 "
        "FROM new ORDER BY kind, measured_at DESC "
        "ON CONFLICT (patient_id, kind) DO UPDATE SET "
        f"{_latest_update('current', 'excluded')}) "
        "SELECT coalesce(array_agg(batch.n), '{}') FROM batch WHERE NOT EXISTS (SELECT 1 "
        "FROM new WHERE (new.device_id, new.kind, new.measured_at) = "
        "(batch.device_id, batch.kind, batch.measured_at))"
    )


async def store(
    session: AsyncSession,
    rows: Sequence[dict[str, Any]],
    timezone: ZoneInfo,
    *,
    all_new: bool = False,
) -> set[int]:
    """Insert the rows whose key is not stored yet and move each kind's latest reading on
    (CGM rollups go stale from the day of the earliest new reading, or the day before when
    that reading is within the longest sample interval of midnight).

    `all_new` says no stored reading of these devices falls in the rows' time span (see
    `batch_facts`): PostgreSQL then takes them by COPY. Returns the positions in `rows` that
    were already stored (the duplicates).
    """
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        if all_new:
            await _copy(session, rows)
            await _record_latest(session, _latest_rows(rows, timezone), least="LEAST")
            return set()
        params: dict[str, Any] = {name: [row[name] for row in rows] for name in COLUMNS}
        params["timezone"] = timezone.key
        not_inserted = await session.scalar(_store_statement(), params)
        return {n - 1 for n in not_inserted or ()}
    # SQLite: the write lock is taken at BEGIN (app/db.py), so what is absent now stays absent
    # until this transaction commits.
    existing = {
        (device_id, kind, at)
        for (device_id, kind), times in (await stored_times(session, rows, 0)).items()
        for at in times
    }
    fresh = [row for row in rows if key_of(row) not in existing]
    if fresh:
        await session.execute(
            sqlite.insert(Reading).on_conflict_do_nothing(),
            [{name: row[name] for name in COLUMNS} for row in fresh],
        )
        await _record_latest(session, _latest_rows(fresh, timezone))
    return {n for n, row in enumerate(rows) if key_of(row) in existing}


async def stored_times(
    session: AsyncSession, rows: Sequence[dict[str, Any]], widen_seconds: int
) -> dict[tuple[uuid.UUID, str], list[datetime]]:
    """Stored measured times of these rows' devices in the rows' time span widened by
    `widen_seconds` each way, per (device, kind), oldest first."""
    times = [row["measured_at"] for row in rows]
    widen = timedelta(seconds=widen_seconds)
    result = await session.execute(
        select(Reading.device_id, Reading.kind, Reading.measured_at)
        .where(
            Reading.device_id.in_({row["device_id"] for row in rows}),
            Reading.measured_at.between(min(times) - widen, max(times) + widen),
        )
        .order_by(Reading.measured_at)
    )
    stored: dict[tuple[uuid.UUID, str], list[datetime]] = {}
    for device_id, kind, at in result:
        stored.setdefault((device_id, kind), []).append(at)
    return stored


class StoredMeanwhile(Exception):
    """Another transaction stored some of the same keys between the span check and the COPY;
    the transaction can only be rolled back."""


_record_of = itemgetter(*COLUMNS)
# What asyncpg raises from a call SQLAlchemy does not make: the server's refusals, the client's
# own, and the socket's.
_DRIVER_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
)


async def _copy(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """COPY the rows in binary: the cheapest way in, for the server and for this process (no
    per-value array encoding). A phone's upload is almost always all new."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None and raw.is_in_transaction(), "COPY must join the open transaction"
    try:
        await raw.copy_records_to_table(
            "readings", records=[_record_of(row) for row in rows], columns=COLUMNS
        )
    except asyncpg.UniqueViolationError:
        raise StoredMeanwhile() from None
    except _DRIVER_ERRORS as exc:
        # COPY goes around SQLAlchemy: its errors take the shape of a statement's, so a deadlock
        # with a partition being attached answers 409 and a lost connection 503, never 500.
        error = driver_error(exc, "COPY readings")
        if error.connection_invalidated:
            await connection.invalidate(exc)
        raise error from exc


def _latest_rows(stored: Sequence[dict[str, Any]], timezone: ZoneInfo) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    earliest_cgm_at: datetime | None = None
    for row in stored:
        kind = row["kind"]
        if kind not in latest or row["measured_at"] > latest[kind]["measured_at"]:
            latest[kind] = row
        if kind == "cgm" and (earliest_cgm_at is None or row["measured_at"] < earliest_cgm_at):
            earliest_cgm_at = row["measured_at"]
    # A reading weighs the one before it when that one is at most its sample interval older:
    # the earliest new reading changes its own day, and the day before only if it is within
    # the longest interval of midnight.
    stale_from = (
        (earliest_cgm_at - timedelta(seconds=MAX_INTERVAL_SECONDS)).astimezone(timezone).date()
        if earliest_cgm_at
        else None
    )
    shown = ("patient_id", "measured_at", "utc_offset_minutes", "value", "value2", "value3", "flag")
    return [
        {
            **{c: row[c] for c in shown},
            "kind": kind,
            "stale_from": stale_from if kind == "cgm" else None,
            "version": 0,
        }
        for kind, row in sorted(latest.items())
    ]


@cache
def _record_latest_statement(least: str) -> TextClause:
    return text(
        "INSERT INTO reading_latest AS current (patient_id, kind, measured_at, "  # noqa: S608
        "utc_offset_minutes, value, value2, value3, flag, stale_from, version) VALUES "
        "(:patient_id, :kind, :measured_at, :utc_offset_minutes, :value, :value2, :value3, "
        ":flag, :stale_from, :version) ON CONFLICT (patient_id, kind) DO UPDATE SET "
        + _latest_update("current", "excluded", least=least)
    ).bindparams(*(bindparam(c.name, type_=c.type) for c in ReadingLatest.__table__.columns))


async def _record_latest(
    session: AsyncSession, rows: Sequence[dict[str, Any]], least: str = "MIN"
) -> None:
    await session.execute(_record_latest_statement(least), list(rows))


@dataclass(frozen=True)
class BatchFacts:
    """What an upload needs to know before it stores anything."""

    timezone: str
    has_open_episode: bool  # an alert episode of the patient's is open
    devices: list[Any]  # bound devices: rows with the columns of `_DEVICE_COLUMNS`
    # None of the batch's devices has a stored reading in its time span widened by the longest
    # spacing: no item can be a duplicate or too close to a stored reading.
    span_is_new: bool
    # Those stored readings' measured times per (device, kind), oldest first, as
    # `stored_times` gives them; None where the query did not read them (SQLite).
    stored: dict[tuple[uuid.UUID, str], list[datetime]] | None = None


_DEVICE_COLUMNS = (
    Device.id,
    Device.kind,
    Device.unit,
    Device.source,
    Device.sample_interval_seconds,
    Device.range_low_mg_dl,
    Device.range_high_mg_dl,
)


# Uploads of one patient take this advisory lock (two-key space: class, patient) until they
# commit, so a concurrent upload's readings are seen when checking density.
UPLOAD_LOCK_CLASS = 0x52454144  # "READ"


def _upload_lock_key(patient_id: uuid.UUID) -> int:
    return int.from_bytes(patient_id.bytes[:4], "big", signed=True)


@cache
def _batch_facts_statement(with_span: bool, postgresql: bool) -> Select[*tuple[Any, ...]]:
    # Built once per shape: an upload runs it every time. On PostgreSQL it also tries the
    # patient's upload lock and reads each device's stored readings in the span, in the same
    # round trip (see `batch_facts`).
    patient_id = bindparam("patient_id", type_=Patient.id.type)
    open_episode = (
        select(Alert.id)
        .where(Alert.patient_id == patient_id, Alert.episode_ended_at.is_(None))
        .exists()
    )
    in_span = (
        Reading.device_id.in_(bindparam("device_ids", expanding=True)),
        Reading.measured_at.between(bindparam("earliest"), bindparam("latest")),
    )
    stored_in_span = (
        select(Reading.device_id).where(*in_span).exists() if with_span else literal(False)
    )
    locked = (
        func.pg_try_advisory_xact_lock(
            literal(UPLOAD_LOCK_CLASS), bindparam("lock_key", type_=Integer())
        )
        if postgresql
        else literal(True)
    )
    # The device's stored kinds and measured times in the span, oldest first (PostgreSQL).
    stored_kinds, stored_times = (
        (
            select(func.array_agg(aggregate_order_by(column, Reading.measured_at)))
            .where(Reading.device_id == Device.id, *in_span)
            .scalar_subquery()
            if with_span and postgresql
            else null()
        )
        for column in (Reading.kind, Reading.measured_at)
    )
    return (
        select(
            Patient.timezone,
            open_episode,
            stored_in_span,
            locked,
            stored_kinds,
            stored_times,
            *_DEVICE_COLUMNS,
        )
        .outerjoin(Device, and_(Device.patient_id == Patient.id, Device.unbound_at.is_(None)))
        .where(Patient.id == patient_id)
    )


async def batch_facts(
    session: AsyncSession,
    patient_id: uuid.UUID,
    device_ids: Collection[uuid.UUID],
    span: tuple[datetime, datetime] | None,
    widen_seconds: int = 0,
) -> BatchFacts | None:
    """For an upload, in one query: the facts above; None when there is no such patient.

    `span` is the (earliest, latest) measured time of the batch's items on `device_ids`; stored
    readings up to `widen_seconds` outside it count as in it.

    On PostgreSQL the same query reads the stored readings' times in the widened span (so
    the density check needs no second round trip) and tries the patient's upload lock. Another
    upload of the patient
    holding it may commit readings this query's snapshot cannot see, so then the lock is waited
    for and the facts read again (one more round trip, only under contention)."""
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    params: dict[str, Any] = {"patient_id": patient_id, "lock_key": _upload_lock_key(patient_id)}
    with_span = bool(span and device_ids)
    if span and device_ids:
        widen = timedelta(seconds=widen_seconds)
        params.update(device_ids=list(device_ids), earliest=span[0] - widen, latest=span[1] + widen)
    statement = _batch_facts_statement(with_span, on_postgresql)
    rows = (await session.execute(statement, params)).all()
    if rows and not rows[0][3]:
        await session.execute(
            select(func.pg_advisory_xact_lock(UPLOAD_LOCK_CLASS, params["lock_key"]))
        )
        rows = (await session.execute(statement, params)).all()
    if not rows:
        return None
    first = rows[0]
    stored: dict[tuple[uuid.UUID, str], list[datetime]] = {}
    for row in rows:
        for kind, at in zip(row[4] or (), row[5] or (), strict=True):
            stored.setdefault((row.id, kind), []).append(at)
    return BatchFacts(
        timezone=first[0],
        has_open_episode=bool(first[1]),
        devices=[row for row in rows if row.id is not None],
        span_is_new=not first[2],
        stored=stored if on_postgresql else None,
    )


async def latest_for(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> Sequence[ReadingLatest]:
    """The latest reading of every kind for these patients."""
    return (
        await session.scalars(
            select(ReadingLatest).where(one_of(session, ReadingLatest.patient_id, patient_ids))
        )
    ).all()


async def series(
    session: AsyncSession,
    patient_id: uuid.UUID,
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
) -> Sequence[Any]:
    """Readings of a patient in [start, end), oldest first (the columns analytics needs)."""
    result = await session.execute(
        select(
            Reading.measured_at,
            Reading.value,
            Reading.value2,
            Reading.value3,
            Reading.sample_interval_seconds,
            Reading.kind,
            Reading.label,
        )
        .where(
            Reading.patient_id == patient_id,
            Reading.kind.in_(kinds),
            Reading.measured_at >= start,
            Reading.measured_at < end,
        )
        .order_by(Reading.measured_at)
    )
    return result.all()


async def page(
    session: AsyncSession,
    patient_id: uuid.UUID,
    kinds: Sequence[str],
    start: datetime,
    end: datetime,
    limit: int,
) -> Sequence[Reading]:
    """Up to `limit` readings in [start, end), newest first."""
    return (
        await session.scalars(
            select(Reading)
            .where(
                Reading.patient_id == patient_id,
                Reading.kind.in_(kinds),
                Reading.measured_at >= start,
                Reading.measured_at < end,
            )
            .order_by(Reading.measured_at.desc(), Reading.kind, Reading.device_id)
            .limit(limit)
        )
    ).all()


async def clear_stale(
    session: AsyncSession, kind: str, versions: Sequence[tuple[uuid.UUID, int]]
) -> None:
    """Clear each (patient, version read)'s stale mark, unless an upload has moved the version on
    since it was read."""
    if versions:
        await session.execute(
            # The table, not the entity: executemany is a Core-level UPDATE.
            update(cast(Table, ReadingLatest.__table__))
            .where(
                ReadingLatest.patient_id == bindparam("patient"),
                ReadingLatest.kind == kind,
                ReadingLatest.version == bindparam("seen"),
            )
            .values(stale_from=None),
            [{"patient": patient_id, "seen": version} for patient_id, version in versions],
        )


async def stale_patients(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID] | None, limit: int
) -> Sequence[tuple[uuid.UUID, date, int]]:
    """(patient, stale from, version) of CGM rollups to refresh; all patients when ids is None."""
    statement = select(
        ReadingLatest.patient_id, ReadingLatest.stale_from, ReadingLatest.version
    ).where(ReadingLatest.kind == "cgm", ReadingLatest.stale_from.is_not(None))
    if patient_ids is not None:
        statement = statement.where(one_of(session, ReadingLatest.patient_id, patient_ids))
    result = await session.execute(statement.order_by(ReadingLatest.stale_from).limit(limit))
    return [(r.patient_id, r.stale_from, r.version) for r in result]


async def create_partitions(
    session: AsyncSession, first_month: date, months: int, lock_timeout_ms: int
) -> int:
    """Create the monthly `readings` partitions (PostgreSQL) of `months` months from
    `first_month` that do not exist yet; how many were new. Creating one locks `readings`
    against writes (migration 0028); after `lock_timeout_ms` waiting for that lock it gives up
    rather than hold every upload back behind a long query."""
    await session.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
    created = await session.scalar(
        text("SELECT create_reading_partitions(:first, :months)"),
        {"first": first_month, "months": months},
    )
    return int(created or 0)


# Monthly partitions as `create_reading_partitions` names them (so a name is safe in DDL).
_MONTH_PARTITION = "^readings_p[0-9]{6}$"


async def partitions_before(session: AsyncSession, month: date) -> list[str]:
    """The monthly `readings` partitions (PostgreSQL) of months before `month`, oldest first."""
    names = await session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'readings'::regclass AND c.relname ~ :pattern"
            " AND to_date(substring(c.relname from 11), 'YYYYMM') < :month ORDER BY c.relname"
        ),
        {"pattern": _MONTH_PARTITION, "month": month},
    )
    return list(names)


async def archive_partition(session: AsyncSession, name: str, lock_timeout_ms: int) -> None:
    """Detach the monthly partition `name` from `readings` and move it to the schema
    `reading_archive`, in the session's transaction.

    Not CONCURRENTLY: PostgreSQL refuses that while a default partition exists. The plain
    DETACH locks `readings` exclusively for the moment it takes (no rows are read), and gives
    up after `lock_timeout_ms` rather than queue every upload behind a long query.
    """
    if not re.fullmatch(_MONTH_PARTITION, name):
        raise ValueError(f"not a monthly readings partition: {name!r}")
    await session.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
    await session.execute(text("CREATE SCHEMA IF NOT EXISTS reading_archive"))
    await session.execute(text(f"ALTER TABLE readings DETACH PARTITION reading_partitions.{name}"))
    await session.execute(text(f"ALTER TABLE reading_partitions.{name} SET SCHEMA reading_archive"))
