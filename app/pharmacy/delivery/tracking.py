"""Courier positions, arrival estimates and the cold-chain temperature log, pushed live.

A position or a temperature reading is sent again when the courier's phone loses signal; each
carries a key (position: Idempotency-Key; reading: its measurement time) so a repeat is
recorded once and pushed once. A reading taken in transit outside 2-8 C fails the delivery on
the spot and sends the parcel back; once the parcel is handed over, neither a position nor a
reading changes anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.errors import Conflict
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import ColdChainReading, DeliveryLocation, District, PharmacyOrder
from app.pharmacy.delivery import events, geo
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery.states import IN_TRANSIT_STATES, Actor, OrderStatus, Place, transition
from app.realtime.hub import RealtimeHub

LOGGABLE = frozenset({OrderStatus.dispatched, OrderStatus.delivered})


async def estimate_arrival(
    session: AsyncSession, settings: Settings, order: PharmacyOrder, origin: tuple[float, float]
) -> datetime:
    """When a courier at `origin` should reach the order's destination."""
    district = await by_id(session, District, order.district_code)
    mountainous = district is not None and district.is_mountainous
    destination = (order.destination_lat, order.destination_lng)
    return geo.eta(settings, utcnow(), origin, destination, mountainous)


async def report_location(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    courier: Actor,
    lat: float,
    lng: float,
    key: str,
) -> bool:
    """Record the courier's position and push it with a new ETA; False for a repeated key.

    Only in transit: after hand-over (or any other time) a new position is refused, stored
    nowhere and pushed to nobody, while a phone's retry of one sent before is still answered
    as the repeat it is."""
    assert courier.account_id is not None
    if await delivery_repository.location_recorded(session, order.id, key):
        return False
    if OrderStatus(order.status) not in IN_TRANSIT_STATES:
        raise Conflict("order_not_in_transit", status=order.status)
    now = utcnow()
    order.eta_at = await estimate_arrival(session, settings, order, (lat, lng))
    order.last_lat, order.last_lng, order.last_located_at = lat, lng, now
    order.updated_at = now
    session.add(
        DeliveryLocation(
            order_id=order.id,
            courier_account_id=courier.account_id,
            lat=lat,
            lng=lng,
            recorded_at=now,
            eta_at=order.eta_at,
            idempotency_key=key,
        )
    )
    await session.flush()
    await events.publish_order(session, hub, order, events.COURIER_LOCATION)
    return True


@dataclass(frozen=True)
class Reading:
    measured_at: datetime
    celsius: Decimal


Outcome = Literal["accepted", "duplicate", "rejected"]


@dataclass(frozen=True)
class ReadingResult:
    """Per reading: accepted (`late` when it arrived after hand-over), duplicate, or rejected
    with a reason (`measured_in_future`, `measured_after_handover`)."""

    measured_at: datetime
    outcome: Outcome
    reason: str | None = None
    in_range: bool | None = None
    late: bool = False


@dataclass(frozen=True)
class LogResult:
    recorded: int
    duplicates: int
    rejected: int
    # The delivery failed because of this log (only a reading taken in transit can do that).
    excursion: bool
    items: list[ReadingResult]


def _classify(
    reading: Reading, now: datetime, skew: timedelta, handed_over_at: datetime | None
) -> str | None:
    """Why a reading cannot be part of the parcel's log, or None when it can."""
    if reading.measured_at > now + skew:
        return "measured_in_future"
    if handed_over_at is not None and reading.measured_at > handed_over_at:
        # Out of the store's custody: the patient's fridge is not the cold chain.
        return "measured_after_handover"
    return None


async def log_temperatures(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    courier: Actor,
    readings: Sequence[Reading],
    seal_id: str | None,
) -> LogResult:
    """Append readings of a cold-chain parcel, reported per reading.

    In transit, a reading outside 2-8 C fails the delivery and sends the parcel back. After
    hand-over the sale is final: readings taken in transit are kept (marked late, shown to the
    store as evidence for a quality return) but change nothing; readings taken after hand-over
    or in the future (beyond `cold_chain_clock_skew_seconds`) are refused and not stored."""
    if not order.cold_chain:
        raise Conflict("not_cold_chain")
    status = OrderStatus(order.status)
    if status not in LOGGABLE:
        raise Conflict("order_not_in_transit", status=order.status)
    if seal_id is not None and seal_id != order.seal_id:
        raise Conflict("seal_mismatch")
    low, high = (
        Decimal(str(settings.cold_chain_min_celsius)),
        Decimal(str(settings.cold_chain_max_celsius)),
    )
    now = utcnow()
    skew = timedelta(seconds=settings.cold_chain_clock_skew_seconds)
    handed_over_at = (
        await delivery_repository.handed_over_at(session, order.id)
        if status == OrderStatus.delivered
        else None
    )
    late = handed_over_at is not None
    existing = await delivery_repository.reading_times(session, order.id)
    items: list[ReadingResult] = []
    excursion = False
    for reading in sorted(readings, key=lambda r: r.measured_at):
        refusal = _classify(reading, now, skew, handed_over_at)
        if refusal is not None:
            items.append(ReadingResult(reading.measured_at, "rejected", refusal))
            continue
        if reading.measured_at in existing:
            items.append(ReadingResult(reading.measured_at, "duplicate"))
            continue
        in_range = low <= reading.celsius <= high
        excursion = excursion or (not in_range and not late)
        existing.add(reading.measured_at)
        session.add(
            ColdChainReading(
                order_id=order.id,
                measured_at=reading.measured_at,
                celsius=reading.celsius,
                seal_id=seal_id,
                in_range=in_range,
                late=late,
                recorded_by_account_id=courier.account_id,
            )
        )
        items.append(ReadingResult(reading.measured_at, "accepted", None, in_range, late))
    await session.flush()
    if excursion:
        place = Place(order.last_lat, order.last_lng, None)
        note = f"cold_chain_excursion (allowed {low}-{high} C)"
        await transition(session, order, OrderStatus.delivery_failed, courier, place, note)
        system = Actor("system", "cold-chain monitor")
        await transition(session, order, OrderStatus.returning, system, place, note)
        await events.publish_order(session, hub, order)
    outcomes = [item.outcome for item in items]
    return LogResult(
        outcomes.count("accepted"),
        outcomes.count("duplicate"),
        outcomes.count("rejected"),
        excursion,
        items,
    )
