"""Races on the after-sale path, refunds handed back and stock counts - N identical requests
at once against a real server on PostgreSQL: a quality return's steps move once, a cash refund
handed back from several devices is booked once, a stock count sent twice sets the count."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    AuditEvent,
    DoctorSigningKey,
    LedgerEntry,
    Payment,
    PaymentRefund,
    PharmacyStock,
    QualityReturnTransition,
    Settlement,
    TraceabilityEvent,
)
from tests.fixtures.races import RaceServer, race
from tests.prescription.world import World, build, drug, ok
from tests.races.conftest import committed
from tests.races.test_orders import _delivered, _settlement_of

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
RETURNS = "/api/v1/quality-returns"


async def _world(server: RaceServer) -> World:
    async def build_world(session: AsyncSession) -> World:
        return await build(session, server.settings, packs=50)

    return await committed(server, build_world)


async def _collected(server: RaceServer, world: World) -> tuple[dict[str, Any], Settlement]:
    """A delivered, completed order whose cash share the courier took at the door."""
    order = await _delivered(server, world)
    settlement = await _settlement_of(server, order)
    await ok(
        await server.http.post(
            f"/api/v1/payments/settlements/{settlement.id}/hand-over",
            json={
                "method": "cash",
                "amount_fen": settlement.cash_fen,
                "collection_id": str(uuid.uuid4()),
            },
            headers=world.as_("courier"),
        ),
        201,
    )
    await ok(
        await server.http.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_("courier"))
    )
    return order, settlement


async def _opened(server: RaceServer, world: World, order: dict[str, Any]) -> dict[str, Any]:
    return await ok(
        await server.http.post(
            f"{ORDERS}/{order['id']}/quality-returns",
            json={"reason": "药片受潮变色"},
            headers=world.as_("patient"),
        ),
        201,
    )


async def _moves(server: RaceServer, return_id: str, status: str) -> int:
    return int(
        await server.scalar(
            select(func.count())
            .select_from(QualityReturnTransition)
            .where(
                QualityReturnTransition.return_id == uuid.UUID(return_id),
                QualityReturnTransition.to_status == status,
            )
        )
    )


@pytest.mark.parametrize(
    ("step", "who", "body", "status"),
    [
        ("accept", "pharmacist", None, "accepted"),
        ("reject", "pharmacist", {"reason": "药品外观正常"}, "rejected"),
        ("withdraw", "patient", None, "withdrawn"),
    ],
)
async def test_a_quality_return_step_sent_at_once_moves_once(
    server: RaceServer, step: str, who: str, body: dict[str, str] | None, status: str
) -> None:
    world = await _world(server)
    order, _ = await _collected(server, world)
    opened = await _opened(server, world, order)
    result = await race(
        server.http,
        "POST",
        f"{RETURNS}/{opened['id']}/{step}",
        json=body,
        headers=world.as_(who),
    )
    result.one_winner()
    assert await _moves(server, opened["id"], status) == 1


async def test_returned_boxes_checked_in_at_once_are_taken_back_once(server: RaceServer) -> None:
    world = await _world(server)
    order, _ = await _collected(server, world)
    opened = await _opened(server, world, order)
    url = f"{RETURNS}/{opened['id']}"
    await ok(await server.http.post(f"{url}/accept", headers=world.as_("pharmacist")))
    result = await race(
        server.http,
        "POST",
        f"{url}/boxes",
        json={"codes": opened["codes_sold"]},
        headers=world.as_("pharmacist"),
    )
    result.no_server_errors()
    assert all(r.status_code in (200, 409) for r in result.responses), result.statuses
    accepted = [
        item["code"]
        for r in result.responses
        if r.status_code == 200
        for item in r.json()["items"]
        if item["outcome"] == "accepted"
    ]
    assert sorted(accepted) == sorted(opened["codes_sold"])
    boxes = await server.scalar(
        select(func.count())
        .select_from(TraceabilityEvent)
        .where(TraceabilityEvent.return_id == uuid.UUID(opened["id"]))
    )
    assert boxes == len(opened["codes_sold"])


async def test_a_cash_refund_handed_back_at_once_is_booked_once(server: RaceServer) -> None:
    world = await _world(server)
    order, settlement = await _collected(server, world)
    opened = await _opened(server, world, order)
    url = f"{RETURNS}/{opened['id']}"
    staff = world.as_("pharmacist")
    await ok(await server.http.post(f"{url}/accept", headers=staff))
    await ok(
        await server.http.post(f"{url}/boxes", json={"codes": opened["codes_sold"]}, headers=staff)
    )
    await ok(await server.http.post(f"{url}/complete", headers=staff))
    refund = await server.scalar(
        select(PaymentRefund)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(Payment.settlement_id == settlement.id)
    )
    payment_id, refund_id = refund.payment_id, refund.id
    result = await race(
        server.http,
        "POST",
        f"/api/v1/payments/refunds/{refund_id}/hand-back",
        headers=world.as_("courier"),
    )
    assert result.all_replay() == str(refund_id)
    assert {r.json()["status"] for r in result.responses} == {"succeeded"}
    bookings = await server.scalar(
        select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
            LedgerEntry.payment_id == payment_id, LedgerEntry.kind == "refund"
        )
    )
    assert bookings == 1


async def test_one_stock_count_sent_at_once_sets_the_count(server: RaceServer) -> None:
    """A count of a drug the store never stocked: every copy answers the count, one row."""
    world = await _world(server)

    async def new_drug(session: AsyncSession) -> uuid.UUID:
        return (await drug(session, f"阿卡波糖片 {uuid.uuid4().hex[:6]}", 3_000)).id

    drug_id = await committed(server, new_drug)
    result = await race(
        server.http,
        "PUT",
        f"/api/v1/pharmacy/stock/{drug_id}",
        json={"quantity": 24},
        headers=world.as_("pharmacist"),
    )
    result.no_server_errors()
    assert result.statuses == [200] * len(result.responses), result.statuses
    assert {r.json()["quantity"] for r in result.responses} == {24}
    rows = await server.scalar(
        select(func.count())
        .select_from(PharmacyStock)
        .where(PharmacyStock.store_id == world.store.id, PharmacyStock.drug_id == drug_id)
    )
    assert rows == 1


async def test_a_signing_key_revoked_at_once_is_revoked_once(server: RaceServer) -> None:
    """A doctor who lost their phone presses revoke on several devices at once: one revocation,
    one audit; the rest are 409 (a revoked key is final)."""
    world = await _world(server)
    key_id = await server.scalar(
        select(DoctorSigningKey.id).where(
            DoctorSigningKey.doctor_id == world.doctor.id, DoctorSigningKey.status == "active"
        )
    )
    result = await race(
        server.http,
        "POST",
        f"/api/v1/doctors/me/signing-keys/{key_id}/revoke",
        json={"reason": "手机丢失"},
        headers=world.as_("doctor"),
    )
    result.one_winner()
    audits = await server.scalar(
        select(func.count()).where(
            AuditEvent.resource_id == str(key_id), AuditEvent.action == "update"
        )
    )
    assert audits == 1
