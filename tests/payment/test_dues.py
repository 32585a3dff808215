"""A personal share left unpaid after hand-over is reminded to the patient once; one paid at
the door, or one too recent, is not."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from app.models import OutboxMessage
from app.payment import dues


async def _reminders(db_session, settlement_id: uuid.UUID) -> list[OutboxMessage]:
    """The reminders queued for this settlement (on PostgreSQL the run's database also holds
    settlements other tests committed, which the sweep reminds too)."""
    rows = await db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == f"payment_due:{settlement_id}")
    )
    return list(rows)


async def test_an_unpaid_share_is_reminded_once(db_session, settings, delivery) -> None:
    later = delivery.settlement.settled_at + timedelta(hours=2)
    assert await dues.remind_outstanding(db_session, settings, later) >= 1
    await dues.remind_outstanding(db_session, settings, later)
    [reminder] = await _reminders(db_session, delivery.settlement.id)
    assert reminder.payload["recipient"] == str(delivery.patient.account_id)
    assert reminder.payload["template"] == "payment_due"
    assert reminder.payload["data"]["amount_fen"] == 16_000


async def test_no_reminder_right_after_hand_over(db_session, settings, delivery) -> None:
    soon = delivery.settlement.settled_at + timedelta(minutes=5)
    await dues.remind_outstanding(db_session, settings, soon)
    assert await _reminders(db_session, delivery.settlement.id) == []


async def test_a_share_paid_at_the_door_is_not_reminded(
    client, db_session, settings, delivery
) -> None:
    body = {"method": "cash", "amount_fen": 16_000, "collection_id": str(uuid.uuid4())}
    url = f"/api/v1/payments/settlements/{delivery.settlement.id}/hand-over"
    assert (await client.post(url, json=body, headers=delivery.courier_headers)).status_code == 201
    later = delivery.settlement.settled_at + timedelta(hours=2)
    await dues.remind_outstanding(db_session, settings, later)
    assert await _reminders(db_session, delivery.settlement.id) == []
