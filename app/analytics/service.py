"""CGM and BP summaries of a patient (scoped, audited), and keeping day rollups current."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import bp as bp_metrics
from app.analytics import cgm
from app.analytics import repository as analytics_repository
from app.analytics.repository import BpRows, RollupDay
from app.analytics.schemas import (
    AbpmOut,
    AgpOut,
    BpSummaryOut,
    CgmMetricsOut,
    CgmSummaryOut,
    DippingOut,
    EditingOut,
    EpisodeOut,
    HomeDayOut,
    HomeOut,
    MorningSurgeOut,
    OfficeOut,
    PeriodOut,
    PeriodStatsOut,
    SleepPeriodIn,
)
from app.analytics.series import (
    EPOCH_DATE,
    GlucoseSeries,
    Period,
    load_glucose,
    local_period,
    local_seconds,
)
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.device.schemas import MAX_INTERVAL_SECONDS
from app.errors import Conflict
from app.kit.clock import utcnow
from app.kit.sql import add_unique
from app.models import BpSleepPeriod, Patient
from app.reading import repository as reading_repository
from app.reading.service import visible_patient
from app.reading.units import to_mmol_l


def period_out(period: Period) -> PeriodOut:
    """The body of a period."""
    return PeriodOut(
        start_date=period.start_date,
        end_date=period.end_date,
        days=period.days,
        timezone=str(period.timezone.key),
        start=period.start,
        end=period.end,
    )


@dataclass(frozen=True)
class CgmView:
    """A patient's CGM period: its readings and summary (what the JSON and the chart show)."""

    patient: Patient
    period: Period
    series: GlucoseSeries
    summary: CgmSummaryOut


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _percentile_list(values: np.ndarray, column: int) -> list[float | None]:
    # Python floats first: numpy's scalar isnan and float() per value were ~7 % of an AGP
    # request's CPU.
    return [None if math.isnan(v) else round(v, 1) for v in values[:, column].tolist()]


def summarise_cgm(patient_id: uuid.UUID, period: Period, series: GlucoseSeries) -> CgmSummaryOut:
    """The CGM summary of a loaded series."""
    total = cgm.Accumulator()
    for day in series.by_day().values():
        total.add(day)
    found = cgm.episodes(series.times, series.values, series.spans)
    minutes, percentiles = cgm.agp(series.minute_of_day, series.values)
    return CgmSummaryOut(
        patient_id=patient_id,
        period=period_out(period),
        metrics=CgmMetricsOut.build(cgm.metrics(total, period.seconds, period.days)),
        episodes={kind: sum(e.kind == kind for e in found) for kind, _, _ in cgm.EPISODE_RULES},
        episode_list=[
            EpisodeOut(
                kind=e.kind,
                start=_utc(e.start),
                end=_utc(e.end),
                minutes=e.minutes,
                extreme_mg_dl=e.extreme_mg_dl,
                extreme_mmol_l=to_mmol_l(e.extreme_mg_dl),
            )
            for e in found
        ],
        agp=AgpOut(
            minute_of_day=[int(m) for m in minutes],
            p5=_percentile_list(percentiles, 0),
            p25=_percentile_list(percentiles, 1),
            p50=_percentile_list(percentiles, 2),
            p75=_percentile_list(percentiles, 3),
            p95=_percentile_list(percentiles, 4),
        ),
    )


async def _patient_period(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID,
    end_date: date | None,
    days: int,
) -> tuple[Patient, Period]:
    patient = await visible_patient(session, principal, patient_id)
    return patient, local_period(ZoneInfo(patient.timezone), end_date, days, utcnow())


async def cgm_view(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patient_id: uuid.UUID,
    end_date: date | None,
    days: int,
) -> CgmView:
    """A patient's CGM summary over `days` local days ending `end_date` (default today)."""
    patient, period = await _patient_period(session, principal, patient_id, end_date, days)
    series = await load_glucose(session, patient.id, period, settings.cgm_default_interval_seconds)
    await audit_service.record(
        session, principal, AuditAction.read, "cgm_summary", None, patient.id
    )
    return CgmView(patient, period, series, summarise_cgm(patient.id, period, series))


@dataclass(frozen=True)
class BpView:
    """A patient's BP period: readings (rows: epoch, systolic, diastolic, pulse, excluded as
    1.0 / 0.0) and the summary."""

    patient: Patient
    period: Period
    points: np.ndarray
    summary: BpSummaryOut


def _surge_out(surge: bp_metrics.MorningSurge) -> MorningSurgeOut:
    return MorningSurgeOut(
        rise_at=_utc(surge.rise_at) if surge.rise_at is not None else None,
        morning_systolic=surge.morning_systolic,
        sleep_trough=surge.sleep_trough,
        prewaking=surge.prewaking,
        exaggerated=surge.exaggerated,
    )


def _abpm_out(a: bp_metrics.Abpm) -> AbpmOut:
    return AbpmOut(
        readings=a.readings,
        valid_readings=a.valid_readings,
        valid_percent=a.valid_percent,
        valid=a.valid,
        sleep_source=a.sleep_source,
        classified_by=a.classified_by,
        all_day=PeriodStatsOut.build(a.all_day),
        awake=PeriodStatsOut.build(a.awake),
        asleep=PeriodStatsOut.build(a.asleep),
        systolic_dipping=DippingOut.of(a.systolic_dipping),
        diastolic_dipping=DippingOut.of(a.diastolic_dipping),
        above_24h_threshold=a.above_24h,
        above_awake_threshold=a.above_awake,
        above_asleep_threshold=a.above_asleep,
        hypertension=a.hypertension,
        nocturnal_hypertension=a.nocturnal_hypertension,
        morning_surge=_surge_out(a.morning_surge),
    )


def summarise_bp(
    patient_id: uuid.UUID,
    period: Period,
    rows: BpRows,
    sleep_periods: Sequence[tuple[datetime, datetime]],
    settings: Settings,
) -> tuple[np.ndarray, BpSummaryOut]:
    """The BP summary of a period's readings and diary, and the chart's points."""
    epochs = np.array(rows.epochs, dtype=np.float64)
    systolic = np.array(rows.systolic, dtype=np.float64)
    diastolic = np.array(rows.diastolic, dtype=np.float64)
    # None (no pulse) becomes NaN in a float array.
    pulse = np.array(rows.pulse, dtype=np.float64)
    local = local_seconds(epochs, period.timezone)
    hours = np.mod(local, 86400.0) / 3600.0
    reasons = bp_metrics.artefacts(systolic, diastolic, settings)
    excluded = np.array([r is not None for r in reasons], dtype=np.bool_)
    where = np.array(
        [s or settings.bp_unlabelled_setting for s in rows.settings], dtype=np.str_
    ).reshape(-1)
    ambulatory = where == "ambulatory"
    abpm = bp_metrics.abpm(
        epochs[ambulatory],
        hours[ambulatory],
        systolic[ambulatory],
        diastolic[ambulatory],
        pulse[ambulatory],
        [f for f, a in zip(rows.awake, ambulatory.tolist(), strict=True) if a],
        excluded[ambulatory],
        [(bed.timestamp(), rise.timestamp()) for bed, rise in sleep_periods],
        settings,
    )
    at_home = (where == "home") & ~excluded
    home = bp_metrics.home(
        [EPOCH_DATE + timedelta(days=int(d)) for d in np.floor_divide(local[at_home], 86400.0)],
        hours[at_home],
        systolic[at_home],
        diastolic[at_home],
        settings,
    )
    in_office = (where == "office") & ~excluded
    office = bp_metrics.office(systolic[in_office], diastolic[in_office], settings)
    phenotype, basis = bp_metrics.phenotype(office, abpm, home)
    edited = bp_metrics.editing(reasons)
    summary = BpSummaryOut(
        patient_id=patient_id,
        period=period_out(period),
        editing=EditingOut(
            readings=edited.readings,
            excluded=edited.excluded,
            reasons=edited.reasons,
            systolic_limits=(settings.bp_edit_systolic_min, settings.bp_edit_systolic_max),
            diastolic_limits=(settings.bp_edit_diastolic_min, settings.bp_edit_diastolic_max),
            pulse_pressure_limits=(
                settings.bp_edit_pulse_pressure_min,
                settings.bp_edit_pulse_pressure_max,
            ),
        ),
        ambulatory=_abpm_out(abpm),
        home=HomeOut(
            readings=home.readings,
            first_day=home.first_day,
            days=[HomeDayOut(day=d.day, morning=d.morning, evening=d.evening) for d in home.days],
            counted_readings=home.counted_readings,
            systolic=home.systolic,
            diastolic=home.diastolic,
            enough=home.enough,
            hypertension=home.hypertension,
        ),
        office=OfficeOut(
            readings=office.readings,
            systolic=office.systolic,
            diastolic=office.diastolic,
            grade=office.grade,
            hypertension=office.hypertension,
        ),
        phenotype=phenotype,
        phenotype_basis=basis,
    )
    points = np.column_stack([epochs, systolic, diastolic, pulse, excluded.astype(np.float64)])
    return points.reshape(-1, 5), summary


async def bp_view(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patient_id: uuid.UUID,
    end_date: date | None,
    days: int,
) -> BpView:
    """A patient's blood-pressure summary over `days` local days ending `end_date`."""
    patient, period = await _patient_period(session, principal, patient_id, end_date, days)
    rows = await analytics_repository.bp_readings(session, patient.id, period.start, period.end)
    diary = await analytics_repository.sleep_periods(session, patient.id, period.start, period.end)
    points, summary = summarise_bp(
        patient.id, period, rows, [(p.bed_at, p.rise_at) for p in diary], settings
    )
    await audit_service.record(session, principal, AuditAction.read, "bp_summary", None, patient.id)
    return BpView(patient, period, points, summary)


class SleepPeriodConflict(Conflict):
    """The diary already holds another period from this bed time."""

    code = "sleep_period_conflict"


class SleepPeriodOverlaps(Conflict):
    code = "sleep_period_overlaps"


async def record_sleep_period(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID, body: SleepPeriodIn
) -> tuple[BpSleepPeriod, bool]:
    """Add a night to the patient's sleep diary (the patient, or a doctor in care); (the
    period, whether it is new). The bed time is the idempotency key: the same period again
    is the stored one; another rise time or source from that bed time, or a period
    overlapping another, is a 409."""
    patient = await visible_patient(session, principal, patient_id)
    bed_at, rise_at = body.bed_at.astimezone(UTC), body.rise_at.astimezone(UTC)
    await analytics_repository.lock_patient(session, patient.id)
    for attempt in range(2):
        found = await analytics_repository.sleep_period_at(session, patient.id, bed_at)
        if found is not None:
            if (found.rise_at, found.source) != (rise_at, body.source):
                raise SleepPeriodConflict()
            return found, False
        if await analytics_repository.sleep_periods(session, patient.id, bed_at, rise_at):
            raise SleepPeriodOverlaps()
        period = BpSleepPeriod(
            patient_id=patient.id, bed_at=bed_at, rise_at=rise_at, source=body.source
        )
        # A concurrent identical request may have stored it meanwhile (SQLite; PostgreSQL
        # waited on the patient's lock): read it back once.
        if await add_unique(session, period):
            await audit_service.record(
                session, principal, AuditAction.create, "bp_sleep_period", period.id, patient.id
            )
            return period, True
        assert attempt == 0
    raise SleepPeriodConflict()


async def list_sleep_periods(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID,
    end_date: date | None,
    days: int,
) -> Sequence[BpSleepPeriod]:
    """The patient's diary nights overlapping `days` local days ending `end_date`."""
    patient, period = await _patient_period(session, principal, patient_id, end_date, days)
    found = await analytics_repository.sleep_periods(session, patient.id, period.start, period.end)
    await audit_service.record(
        session, principal, AuditAction.read, "bp_sleep_period", None, patient.id
    )
    return found


async def refresh_rollups(
    session: AsyncSession,
    settings: Settings,
    patient_ids: Sequence[uuid.UUID] | None = None,
    limit: int = 200,
) -> int:
    """Recompute stale CGM day rollups (of these patients, or any; at most `limit` patients),
    from each one's first stale day to today, in a fixed number of statements; how many
    patients were refreshed."""
    # In patient order: refreshes running at once in two processes lock rows in one order.
    stale = sorted(await reading_repository.stale_patients(session, patient_ids, limit))
    if not stale:
        return 0
    now = utcnow()
    zones = await analytics_repository.timezones(session, [p for p, _, _ in stale])
    days = []
    # The reading after a day's last one weighs it (see `app.analytics.cgm.weights`).
    weighing = timedelta(seconds=MAX_INTERVAL_SECONDS)
    for patient_id, stale_from, _ in stale:
        timezone = ZoneInfo(zones.get(patient_id, "Asia/Shanghai"))
        today = now.astimezone(timezone).date()
        first = max(stale_from, today - timedelta(days=settings.reading_backfill_window_days))
        for offset in range((today - first).days + 1):
            day = local_period(timezone, first + timedelta(days=offset), 1, now)
            days.append(
                RollupDay(patient_id, day.start_date, day.start, day.end, day.end + weighing)
            )
    await analytics_repository.refresh_daily(
        session, days, settings.cgm_default_interval_seconds, now
    )
    await reading_repository.clear_stale(session, "cgm", [(p, v) for p, _, v in stale])
    return len(stale)
