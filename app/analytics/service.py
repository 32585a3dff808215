"""CGM and BP summaries of a patient (scoped, audited), and keeping day rollups current."""

from __future__ import annotations

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
from app.analytics.repository import RollupDay
from app.analytics.schemas import (
    AgpOut,
    BpSummaryOut,
    CgmMetricsOut,
    CgmSummaryOut,
    EpisodeOut,
    PeriodOut,
)
from app.analytics.series import (
    MAX_INTERVAL_SECONDS,
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
from app.kit.clock import utcnow
from app.models import Patient
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
    return [None if np.isnan(v) else round(float(v), 1) for v in values[:, column]]


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
    """A patient's BP period: readings (epoch, systolic, diastolic) and the summary."""

    patient: Patient
    period: Period
    points: np.ndarray
    summary: BpSummaryOut


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
    times, systolic, diastolic, pulse, _ = await analytics_repository.columns(
        session, patient.id, "bp", period.start, period.end, 0
    )
    # None (no pulse) becomes NaN in a float array.
    data = np.array([times, systolic, diastolic, pulse], dtype=np.float64).T.reshape(-1, 4)
    hours = np.mod(local_seconds(data[:, 0], period.timezone), 86400.0) / 3600.0
    metrics = bp_metrics.summarise(hours, data[:, 1], data[:, 2], data[:, 3], settings)
    await audit_service.record(session, principal, AuditAction.read, "bp_summary", None, patient.id)
    return BpView(
        patient, period, data, BpSummaryOut.build(patient.id, period_out(period), metrics)
    )


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
