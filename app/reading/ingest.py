"""Ingesting a batch of readings: per-item verdicts, one bulk insert, latest values, alerts."""

from __future__ import annotations

import bisect
import itertools
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.errors import AppError, NotFound
from app.i18n import translate
from app.kit.clock import utcnow
from app.metrics.counters import count_rejected_readings, count_stored_readings
from app.reading import repository as reading_repository
from app.reading.facts import ReadingsStored
from app.reading.items import ParsedItem, Rejection
from app.reading.schemas import UploadReport
from app.reading.validation import (
    BatchContext,
    DeviceInfo,
    Row,
    to_row,
    widest_spacing_seconds,
)

RESOURCE = "readings"


class BatchTooLarge(AppError):
    status = 413
    code = "reading_batch_too_large"


class ConcurrentUpload(AppError):
    """The same readings were being stored by another request at the same moment: nothing of
    this one is kept, and its retry reports them as duplicates."""

    status = 409
    code = "reading_upload_concurrent"


def _rejected(index: int, rejection: Rejection) -> dict[str, Any]:
    return {
        "index": index,
        "status": "rejected",
        "reason": rejection.reason,
        "field": rejection.field,
        "message": translate(rejection.reason, **rejection.params),
    }


def _too_dense(spacing: int) -> Rejection:
    return Rejection("too_dense", "measured_at", {"seconds": spacing})


def _crowded(
    rows: list[Row],
    spacings: dict[tuple[Any, str], int],
    stored: dict[tuple[Any, str], list[datetime]],
) -> set[int]:
    """Positions of rows closer than their series' spacing to a stored reading of the same
    device and kind (other than one at the same moment: that row is a duplicate), or to an
    earlier kept row of the batch (the earliest of a crowd is kept): a burst keeps one reading
    per spacing. `spacings` is in seconds per (device, kind)."""
    series: dict[tuple[Any, str], list[int]] = {}
    for n, row in enumerate(rows):
        series.setdefault((row["device_id"], row["kind"]), []).append(n)
    crowded: set[int] = set()
    for key, positions in series.items():
        times = [rows[n]["measured_at"] for n in positions]
        if any(b < a for a, b in itertools.pairwise(times)):
            order = sorted(range(len(times)), key=times.__getitem__)
            positions = [positions[i] for i in order]
            times = [times[i] for i in order]
        spacing = timedelta(seconds=spacings[key])
        near = stored.get(key, ())
        last = None
        for n, at in zip(positions, times, strict=True):
            if near:
                i = bisect.bisect_left(near, at)
                if i < len(near) and near[i] == at:
                    continue  # stored already: reported as a duplicate
                if (i and at - near[i - 1] < spacing) or (i < len(near) and near[i] - at < spacing):
                    crowded.add(n)
                    continue
            if last is not None and at - last < spacing:
                crowded.add(n)
            else:
                last = at
    return crowded


async def ingest(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    patient_id: uuid.UUID,
    parsed: Sequence[ParsedItem | Rejection],
    source: str,
    *,
    history: bool = False,
) -> UploadReport:
    """Store the valid items of a batch for a patient and report on every item.

    Valid items are kept even when others are bad; an item whose (device, kind, measured time)
    is already stored, or repeats an earlier item of the batch, is a duplicate; one closer to
    another reading of its device and kind than the plausible spacing is `too_dense` (the
    earliest of a crowd is kept; a stored reading always wins). A `history` batch (an import)
    reaches further back and raises no live alert.
    """
    if len(parsed) > settings.reading_batch_max_items:
        raise BatchTooLarge(limit=settings.reading_batch_max_items)
    items = [item for item in parsed if not isinstance(item, Rejection)]
    times = [item.measured_at for item in items]
    facts = await reading_repository.batch_facts(
        session,
        patient_id,
        {item.device_id for item in items},
        (min(times), max(times)) if times else None,
        widest_spacing_seconds(settings),
    )
    if facts is None:
        raise NotFound()
    timezone = ZoneInfo(facts.timezone)
    batch = BatchContext.at(
        utcnow(),
        patient_id=patient_id,
        timezone=timezone,
        devices={d.id: DeviceInfo.of(d) for d in facts.devices},
        source=source,
        settings=settings,
        history=history,
    )
    # Plain dicts, validated once into the report at the end (pydantic-core, not per object).
    results: list[dict[str, Any] | None] = [None] * len(parsed)
    rows: list[Row] = []
    row_index: dict[reading_repository.Key, int] = {}
    for index, item in enumerate(parsed):
        outcome = item if isinstance(item, Rejection) else to_row(item, batch)
        if isinstance(outcome, Rejection):
            results[index] = _rejected(index, outcome)
            continue
        key = reading_repository.key_of(outcome)
        if key in row_index:
            results[index] = {"index": index, "status": "duplicate"}
            continue
        row_index[key] = index
        rows.append(outcome)
    # Density: against stored readings around the batch (read by the batch-facts query on
    # PostgreSQL; elsewhere only fetched when that query saw any) and within the batch.
    stored_near: dict[tuple[uuid.UUID, str], list[datetime]]
    if facts.span_is_new or not rows:
        stored_near = {}
    elif facts.stored is not None:
        stored_near = facts.stored
    else:
        widest = widest_spacing_seconds(settings)
        stored_near = await reading_repository.stored_times(session, rows, widest)
    series = {(row["device_id"], row["kind"]) for row in rows}
    spacings = {key: batch.spacing_seconds(*key) for key in series}
    crowded = _crowded(rows, spacings, stored_near)
    positions = list(row_index.values())
    if crowded:
        for n in crowded:
            spacing = spacings[(rows[n]["device_id"], rows[n]["kind"])]
            results[positions[n]] = _rejected(positions[n], _too_dense(spacing))
        rows = [row for n, row in enumerate(rows) if n not in crowded]
        positions = [index for n, index in enumerate(positions) if n not in crowded]
    # Keys repeated within the batch were set aside above, so a new span means all new rows.
    try:
        stored_before = await reading_repository.store(
            session, rows, timezone, all_new=facts.span_is_new
        )
    except reading_repository.StoredMeanwhile:
        raise ConcurrentUpload() from None
    accepted = [row for n, row in enumerate(rows) if n not in stored_before]
    for n, index in enumerate(positions):
        results[index] = {
            "index": index,
            "status": "duplicate" if n in stored_before else "accepted",
        }
    count_rejected_readings(r["reason"] for r in results if r and r["status"] == "rejected")
    if accepted:
        count_stored_readings(session, (row["kind"] for row in accepted))
        await events.record(session, ReadingsStored(patient_id, accepted, facts.has_open_episode))
        await audit_service.record(
            session, principal, AuditAction.create, RESOURCE, None, patient_id
        )
    return UploadReport.of_dicts([r for r in results if r is not None])
