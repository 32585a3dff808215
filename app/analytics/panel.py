"""The doctor's panel: their patients by urgency, with latest values and 14-day summaries."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.alert.urgency import urgency_by_patient
from app.analytics import cgm
from app.analytics import repository as analytics_repository
from app.analytics.schemas import CgmMetricsOut, LatestOut, PanelEntry, PanelOut
from app.analytics.series import Period, local_period
from app.analytics.service import refresh_rollups
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.kit.clock import utcnow
from app.reading import repository as reading_repository
from app.reading.units import to_mmol_l

PANEL_DAYS = 14
GLUCOSE_KINDS = ("cgm", "scan", "bg")


def _metrics(sums: tuple[Any, ...] | None, period: Period) -> cgm.CgmMetrics:
    if sums is None:
        return cgm.metrics(cgm.Accumulator(), period.seconds, period.days)
    readings, value_sum, deviations, covered, *bands, days = sums
    total = cgm.Accumulator(
        readings=int(readings),
        value_sum=float(value_sum),
        squared_deviations=float(deviations),
        covered_seconds=float(covered),
        band_seconds=[float(b) for b in bands],
    )
    return cgm.metrics(total, period.seconds, period.days, days_with_data=int(days))


async def doctor_panel(session: AsyncSession, settings: Settings, principal: Principal) -> PanelOut:
    """Every patient in the doctor's care, most urgent first, in a fixed number of queries."""
    assert principal.doctor_id is not None
    now = utcnow()
    patients = await analytics_repository.doctor_patients(session, principal.doctor_id, now)
    ids = [p.id for p in patients]
    # Rollups are refreshed by the reading worker; whatever is still stale is done now.
    await refresh_rollups(session, settings, ids, limit=max(len(ids), 1))
    periods = {p.id: local_period(ZoneInfo(p.timezone), None, PANEL_DAYS, now) for p in patients}
    first = min((p.start_date for p in periods.values()), default=now.date())
    last = max((p.end_date for p in periods.values()), default=now.date())
    start = min((p.start for p in periods.values()), default=now)
    urgency = await urgency_by_patient(session, ids)
    latest: dict[uuid.UUID, dict[str, LatestOut]] = {}
    for row in await reading_repository.latest_for(session, ids):
        latest.setdefault(row.patient_id, {})[row.kind] = LatestOut(
            kind=row.kind,
            measured_at=row.measured_at,
            value=row.value,
            value_mmol_l=to_mmol_l(row.value) if row.kind in GLUCOSE_KINDS else None,
            value2=row.value2,
            flag=row.flag,
        )
    # Patients of one time zone share a period: one aggregate query per zone (usually one).
    totals: dict[uuid.UUID, tuple[Any, ...]] = {}
    for zone_period in {(p.start_date, p.end_date) for p in periods.values()}:
        members = [i for i in ids if (periods[i].start_date, periods[i].end_date) == zone_period]
        totals |= await analytics_repository.period_totals(session, members, *zone_period)
    bp = await analytics_repository.bp_means(session, ids, start, now, settings)
    items = []
    for patient in patients:
        period, level = periods[patient.id], urgency[patient.id]
        count, excluded, systolic, diastolic = bp.get(patient.id, (0, 0, None, None))
        items.append(
            PanelEntry(
                patient_id=patient.id,
                name=patient.name,
                urgency_level=level.level,
                open_alerts=level.open_alerts,
                urgency_reasons=list(level.reasons),
                latest=latest.get(patient.id, {}),
                cgm=CgmMetricsOut.build(_metrics(totals.get(patient.id), period)),
                bp_readings=count,
                bp_excluded=excluded,
                bp_mean_systolic=systolic,
                bp_mean_diastolic=diastolic,
            )
        )
    items.sort(key=lambda e: (-e.urgency_level, -e.open_alerts, e.name or "", str(e.patient_id)))
    await audit_service.record_many(
        session, principal, AuditAction.read, "panel", [(i.patient_id, i.patient_id) for i in items]
    )
    return PanelOut(start_date=first, end_date=last, items=items, next=None)
