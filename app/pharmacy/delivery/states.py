"""The order/delivery state machine, declared once, and the one function that moves an order
through it, recording actor, time and place. A retried request (same Idempotency-Key) finds
its earlier transition and changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.authz.principal import Principal
from app.kit.clock import utcnow
from app.kit.states import StateMachine, moves
from app.models import OrderTransition, PharmacyOrder
from app.pharmacy.delivery import repository
from app.pharmacy.delivery.facts import OrderTransitioned


class OrderStatus(StrEnum):
    created = "created"
    accepted = "accepted"
    picked = "picked"  # every box scanned by its traceability code
    dispatched = "dispatched"  # a courier has it
    delivered = "delivered"  # handed over against the patient's one-time code
    completed = "completed"
    cancelled = "cancelled"
    delivery_failed = "delivery_failed"
    returning = "returning"
    returned = "returned"


S = OrderStatus
ORDER_MACHINE = StateMachine(
    "order",
    S.created,
    moves(
        (S.created, {S.accepted, S.cancelled}),
        (S.accepted, {S.picked, S.cancelled}),
        # Delivery orders go out with a courier; pickup orders are handed over at the counter
        # (or fail when the patient never comes). Scanned boxes are sold: no cancelling now.
        (S.picked, {S.dispatched, S.delivered, S.delivery_failed}),
        (S.dispatched, {S.delivered, S.delivery_failed}),
        # Hand-over finishes the sale: nothing that arrives later (a late thermometer, a
        # report of failure) can fail it and refund drugs the patient keeps. What goes wrong
        # after it is an after-sale quality return, which takes the boxes back first.
        (S.delivered, {S.completed}),
        (S.delivery_failed, {S.returning}),
        (S.returning, {S.returned}),
    ),
)

# Moves that only one kind of fulfilment takes.
FULFILMENT_ONLY: dict[tuple[OrderStatus, OrderStatus], str] = {
    (S.picked, S.dispatched): "delivery",
    (S.picked, S.delivered): "pickup",
    (S.picked, S.delivery_failed): "pickup",
}

# The parcel is on its way: the courier needs the patient's contact, positions are live.
IN_TRANSIT_STATES = frozenset({S.dispatched})

# The parcel is with the patient: the sale is settled and final.
HANDED_OVER_STATES = frozenset({S.delivered, S.completed})

# Boxes have left the shelf: from here on the prescription is used.
DISPENSED_STATES = frozenset(
    {S.picked, S.dispatched, S.delivered, S.completed, S.delivery_failed, S.returning, S.returned}
)


def allowed(source: OrderStatus, target: OrderStatus, fulfilment: str) -> bool:
    """Whether the machine allows `source -> target` for an order of this fulfilment."""
    only = FULFILMENT_ONLY.get((source, target))
    return ORDER_MACHINE.allows(source, target) and (only is None or only == fulfilment)


@dataclass(frozen=True)
class Actor:
    """Who moves an order: a signed-in person, the store's partner system, or this service."""

    kind: str  # account | partner | system
    name: str
    account_id: uuid.UUID | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        """The actor behind a request's principal."""
        return cls("account", principal.display_name, principal.account_id)


@dataclass(frozen=True)
class Place:
    """Where a transition happened (GPS when the client has it, else a description)."""

    lat: float | None = None
    lng: float | None = None
    description: str | None = None


async def replayed(session: AsyncSession, order_id: uuid.UUID, key: str | None) -> bool:
    """Whether a transition with this Idempotency-Key was already made on the order."""
    if key is None:
        return False
    return await repository.transition_made(session, order_id, key)


async def transition(
    session: AsyncSession,
    order: PharmacyOrder,
    target: OrderStatus,
    actor: Actor,
    place: Place | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Move `order` to `target` if the machine allows it (else 409 and nothing changes)."""
    source = OrderStatus(order.status)
    if not allowed(source, target, order.fulfilment):
        ORDER_MACHINE.refuse(source, target)
    await record(session, order, source, target, actor, place, note, idempotency_key)
    order.status = target
    order.updated_at = utcnow()
    await session.flush()
    await events.record(session, OrderTransitioned(order, source, target, note))


async def record(
    session: AsyncSession,
    order: PharmacyOrder,
    source: OrderStatus | None,
    target: OrderStatus,
    actor: Actor,
    place: Place | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Append one history row (the creation row has no source)."""
    place = place or Place()
    session.add(
        OrderTransition(
            order_id=order.id,
            from_status=source,
            to_status=target,
            actor_kind=actor.kind,
            actor_account_id=actor.account_id,
            actor_name=actor.name[:64],
            at=utcnow(),
            lat=place.lat,
            lng=place.lng,
            place=place.description,
            note=note,
            idempotency_key=idempotency_key,
        )
    )
    await session.flush()
