"""The partner integration end to end, over real sockets: the service (uvicorn, outbox relay
running) sends a signed webhook to a fake partner, which verifies it and reports back with
signed callbacks; replays are refused and duplicates change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import StoreIntegration
from tests.fixtures.servers import serve_in_loop, wait_until
from tests.pharmacy.live import Live, live_service, place_order
from tests.pharmacy.partner import FakePartner
from tests.prescription.world import World, ok, trace_code

SECRET = "partner-shared-secret-0123456789abcdef"


@dataclass
class Running:
    live: Live
    partner: FakePartner

    @property
    def world(self) -> World:
        return self.live.world

    @property
    def http(self) -> httpx.AsyncClient:
        return self.live.http

    @property
    def callbacks(self) -> str:
        return f"/api/v1/partner/stores/{self.world.store.id}/callbacks"


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    partner = FakePartner(SECRET)
    async with serve_in_loop(partner.app()) as partner_url:

        async def integrate(session: AsyncSession, world: World) -> None:
            session.add(
                StoreIntegration(
                    store_id=world.store.id, webhook_url=f"{partner_url}/webhooks", secret=SECRET
                )
            )

        async with live_service(
            integrate, outbox_relay_enabled=True, outbox_poll_seconds=0.05
        ) as live:
            yield Running(live, partner)


async def _order(run: Running) -> dict:
    proposals_of = "/api/v1/prescriptions/{}/store-proposals"
    order = await place_order(run.live, "partner-order-1")
    proposals = await run.http.get(
        proposals_of.format(order["prescription_id"]), headers=run.world.as_("patient")
    )
    # Ordered already: the prescription is no longer open to proposals.
    assert proposals.json()["code"] == "prescription_not_approved"
    return order


async def test_signed_webhook_out_and_signed_callbacks_back(running: Running) -> None:
    run, world = running, running.world
    order = await _order(run)
    await wait_until(lambda: len(run.partner.received) == 1, what="partner webhook")
    webhook = run.partner.received[0]
    assert run.partner.refused == 0
    assert webhook.idempotency_key == f"partner:{order['id']}:order.created"
    assert webhook.body["order"]["id"] == order["id"]
    assert webhook.body["order"]["address"].startswith("阳泉市城区")

    report = {"order_id": order["id"], "status": "accepted", "place": "门店系统"}
    first = await ok(await run.partner.callback(run.http, run.callbacks, report, nonce="n-1"))
    assert first == {"outcome": "applied", "order_id": order["id"], "status": "accepted"}
    # The partner's retry of the same callback is harmless.
    repeat = await ok(await run.partner.callback(run.http, run.callbacks, report, nonce="n-1"))
    assert repeat["outcome"] == "duplicate" and repeat["status"] == "accepted"
    # The same status again under a new nonce changes nothing either.
    same = await ok(await run.partner.callback(run.http, run.callbacks, report, nonce="n-2"))
    assert same["outcome"] == "unchanged"

    national_code = world.drugs.metformin.national_code
    picked = {
        "order_id": order["id"], "status": "picked",
        "boxes": [{"national_code": national_code, "code": trace_code()}],
    }  # fmt: skip
    assert (await ok(await run.partner.callback(run.http, run.callbacks, picked)))[
        "status"
    ] == "picked"
    dispatched = {"order_id": order["id"], "status": "dispatched"}
    await ok(await run.partner.callback(run.http, run.callbacks, dispatched))
    view = await ok(
        await run.http.get(f"/api/v1/orders/{order['id']}", headers=world.as_("patient"))
    )
    delivered = {
        "order_id": order["id"],
        "status": "delivered",
        "handover_code": view["handover_code"],
    }
    await ok(await run.partner.callback(run.http, run.callbacks, delivered))
    done = await ok(
        await run.http.get(f"/api/v1/orders/{order['id']}", headers=world.as_("patient"))
    )
    assert done["status"] == "delivered"
    kinds = [(h["to_status"], h["actor_kind"]) for h in done["history"]]
    assert kinds[1:] == [
        ("accepted", "partner"), ("picked", "partner"), ("dispatched", "partner"),
        ("delivered", "partner"),
    ]  # fmt: skip


async def test_replayed_and_forged_callbacks_are_refused(running: Running) -> None:
    run = running
    order = await _order(run)
    report = {"order_id": order["id"], "status": "accepted"}
    stale = await run.partner.callback(
        run.http, run.callbacks, report, at=utcnow() - timedelta(minutes=10)
    )
    assert stale.status_code == 401 and stale.json()["code"] == "partner_callback_stale"
    forged = await run.partner.callback(run.http, run.callbacks, report, secret="x" * 40)
    assert forged.status_code == 401 and forged.json()["code"] == "partner_signature_invalid"
    unsigned = await run.http.post(run.callbacks, json=report)
    assert unsigned.status_code == 401
    reused = await ok(await run.partner.callback(run.http, run.callbacks, report, nonce="n-9"))
    assert reused["outcome"] == "applied"
    other_body = {"order_id": order["id"], "status": "cancelled", "reason": "重放"}
    clash = await run.partner.callback(run.http, run.callbacks, other_body, nonce="n-9")
    assert clash.status_code == 422 and clash.json()["code"] == "partner_nonce_reused"
    view = await ok(
        await run.http.get(f"/api/v1/orders/{order['id']}", headers=run.world.as_("patient"))
    )
    assert view["status"] == "accepted"


async def test_illegal_partner_reports_change_nothing(running: Running) -> None:
    run = running
    order = await _order(run)
    jump = {"order_id": order["id"], "status": "delivered", "handover_code": "123456"}
    response = await run.partner.callback(run.http, run.callbacks, jump)
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    view = await ok(
        await run.http.get(f"/api/v1/orders/{order['id']}", headers=run.world.as_("patient"))
    )
    assert view["status"] == "created" and len(view["history"]) == 1
    # A refused callback leaves no nonce behind: the partner's corrected retry is processed.
    again = {"order_id": order["id"], "status": "accepted"}
    retried = await ok(
        await run.partner.callback(run.http, run.callbacks, again, nonce=response_nonce(response))
    )
    assert retried["outcome"] == "applied"


def response_nonce(response) -> str:
    """The nonce the refused request carried."""
    return str(response.request.headers["Idempotency-Key"])
