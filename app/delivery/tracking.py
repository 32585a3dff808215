"""Courier positions, arrival estimates and the cold-chain temperature log, pushed live.

A position or a temperature reading is sent again when the courier's phone loses signal; each
carries a key (position: Idempotency-Key; reading: its measurement time) so a repeat is
recorded once and pushed once. A reading outside 2-8 C fails the delivery on the spot and
sends the parcel back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.delivery import events, geo
from app.delivery.states import Actor, OrderStatus, Place, transition
from app.errors import Conflict
from app.kit.clock import utcnow
from app.models import ColdChainReading, DeliveryLocation, District, PharmacyOrder
from app.realtime.hub import RealtimeHub

IN_TRANSIT = frozenset({OrderStatus.dispatched})
LOGGABLE = frozenset({OrderStatus.dispatched, OrderStatus.delivered})


async def estimate_arrival(
    session: AsyncSession, settings: Settings, order: PharmacyOrder, origin: tuple[float, float]
) -> datetime:
    """When a courier at `origin` should reach the order's destination."""
    district = await session.get(District, order.district_code)
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
    """Record the courier's position and push it with a new ETA; False for a repeated key."""
    if OrderStatus(order.status) not in IN_TRANSIT:
        raise Conflict("order_not_in_transit", status=order.status)
    assert courier.account_id is not None
    repeated = await session.scalar(
        select(DeliveryLocation.id).where(
            DeliveryLocation.order_id == order.id, DeliveryLocation.idempotency_key == key
        )
    )
    if repeated is not None:
        return False
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


@dataclass(frozen=True)
class LogResult:
    recorded: int
    duplicates: int
    excursion: bool


async def log_temperatures(
    session: AsyncSession,
    hub: RealtimeHub,
    settings: Settings,
    order: PharmacyOrder,
    courier: Actor,
    readings: Sequence[Reading],
    seal_id: str | None,
) -> LogResult:
    """Append readings of a cold-chain parcel; an excursion fails the delivery and returns it."""
    if not order.cold_chain:
        raise Conflict("not_cold_chain")
    if OrderStatus(order.status) not in LOGGABLE:
        raise Conflict("order_not_in_transit", status=order.status)
    if seal_id is not None and seal_id != order.seal_id:
        raise Conflict("seal_mismatch")
    low, high = (
        Decimal(str(settings.cold_chain_min_celsius)),
        Decimal(str(settings.cold_chain_max_celsius)),
    )
    existing = set(
        await session.scalars(
            select(ColdChainReading.measured_at).where(ColdChainReading.order_id == order.id)
        )
    )
    recorded = duplicates = 0
    excursion = False
    for reading in sorted(readings, key=lambda r: r.measured_at):
        if reading.measured_at in existing:
            duplicates += 1
            continue
        in_range = low <= reading.celsius <= high
        excursion = excursion or not in_range
        existing.add(reading.measured_at)
        session.add(
            ColdChainReading(
                order_id=order.id,
                measured_at=reading.measured_at,
                celsius=reading.celsius,
                seal_id=seal_id,
                in_range=in_range,
                recorded_by_account_id=courier.account_id,
            )
        )
        recorded += 1
    await session.flush()
    if excursion:
        place = Place(order.last_lat, order.last_lng, None)
        note = f"cold_chain_excursion (allowed {low}-{high} C)"
        await transition(session, order, OrderStatus.delivery_failed, courier, place, note)
        system = Actor("system", "cold-chain monitor")
        await transition(session, order, OrderStatus.returning, system, place, note)
        await events.publish_order(session, hub, order)
    return LogResult(recorded, duplicates, excursion)
