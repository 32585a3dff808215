"""Live pushes about orders, sent after the commit: the patient follows their parcel, the
store's board follows every order of the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import to_shanghai
from app.models import PharmacyOrder
from app.pharmacy import repository as pharmacy_repository
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery.states import IN_TRANSIT_STATES
from app.realtime.hub import RealtimeHub
from app.realtime.publish import publish_after_commit

ORDER_UPDATED = "order.updated"
COURIER_LOCATION = "delivery.location"


def order_event(order: PharmacyOrder, event_type: str = ORDER_UPDATED) -> dict[str, Any]:
    """The event body: enough for a board or a tracking page to redraw without a reload. It
    never carries the patient's phone or address, and carries the courier's position only
    while the parcel is on its way (afterwards the last position is the patient's door)."""
    in_transit = order.status in IN_TRANSIT_STATES
    return {
        "type": event_type,
        "order_id": str(order.id),
        "store_id": str(order.store_id),
        "status": order.status,
        "fulfilment": order.fulfilment,
        "courier_account_id": None
        if order.courier_account_id is None
        else str(order.courier_account_id),
        "lat": order.last_lat if in_transit else None,
        "lng": order.last_lng if in_transit else None,
        "located_at": None
        if order.last_located_at is None or not in_transit
        else order.last_located_at.isoformat(),
        "eta_at": None if order.eta_at is None else order.eta_at.isoformat(),
        # What people read: the ETA as a clock time in the city.
        "eta_local": None if order.eta_at is None else to_shanghai(order.eta_at).strftime("%H:%M"),
        "updated_at": order.updated_at.isoformat(),
    }


async def publish_order(
    session: AsyncSession,
    hub: RealtimeHub,
    order: PharmacyOrder,
    event_type: str = ORDER_UPDATED,
) -> None:
    """Push the order's new state to its patient, its store's staff and its courier."""
    patient_account = await delivery_repository.patient_account(session, order.patient_id)
    recipients = [*await pharmacy_repository.staff_accounts(session, order.store_id)]
    if patient_account is not None:
        recipients.append(patient_account)
    if order.courier_account_id is not None:
        recipients.append(order.courier_account_id)
    publish_after_commit(session, hub, recipients, order_event(order, event_type))
