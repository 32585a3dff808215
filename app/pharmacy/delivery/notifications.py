"""What the patient hears about their order through push notifications (WeChat subscription
messages, SMS for a failed delivery): dispatched with its ETA, ready for pickup with its
hand-over code, delivery failed. Queued in the outbox in the transaction that moved the order.

The hand-over code itself is never in a notification (it is kept encrypted, and the outbox is
not): the message says it is ready and opens the order, where the patient's app shows it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.i18n import translate_to
from app.outbox.push import PushNotification, queue_push
from app.pharmacy.delivery import repository as delivery_repository
from app.pharmacy.delivery.facts import OrderTransitioned
from app.pharmacy.delivery.states import OrderStatus

ORDER_DISPATCHED = "order_dispatched"
HANDOVER_CODE = "handover_code"
DELIVERY_FAILED = "delivery_failed"


async def tell_patient(session: AsyncSession, event: OrderTransitioned) -> None:
    """Queue the patient's notification of an order's move, if the move is one they hear of."""
    order, target = event.order, OrderStatus(event.target)
    order_no = order.id.hex  # 32 characters: fits a character_string field
    if target == OrderStatus.dispatched:
        kind = ORDER_DISPATCHED
        data = {
            "order_no": order_no,
            "eta": None if order.eta_at is None else order.eta_at.isoformat(),
            "hint": translate_to("zh", "push_order_dispatched_hint"),
        }
    elif target == OrderStatus.picked and order.fulfilment == "pickup":
        kind = HANDOVER_CODE
        data = {"order_no": order_no, "hint": translate_to("zh", "push_pickup_ready_hint")}
    elif target == OrderStatus.delivery_failed:
        kind = DELIVERY_FAILED
        data = {
            "order_no": order_no,
            "reason": event.note or translate_to("zh", "push_delivery_failed_reason"),
        }
    else:
        return
    account_id = await delivery_repository.patient_account(session, order.patient_id)
    if account_id is None:
        return
    await queue_push(
        session,
        PushNotification(
            recipient=str(account_id),
            template=kind,
            data=data,
            page=f"pages/orders/detail?id={order.id}",
        ),
        # One per move: an order dispatched again after a failed attempt is told again.
        f"{kind}:{order.id}:{order.updated_at.timestamp() * 1_000_000:.0f}",
    )
