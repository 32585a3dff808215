"""The outbox relay killed between send and acknowledge, on a real partner webhook: an order
placed over HTTP queues the signed `partner.webhook`; the partner applies it, the relay dies
before the answer arrives; the next relay redelivers under the same Idempotency-Key (signed
afresh) and the partner applies nothing twice.

The relay mechanics on a bare receiver are proven in tests/outbox/test_crash_recovery.py; this
is the same fault on the product's own partner integration, reusing its relay process helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse

from app.db import create_engine, create_sessionmaker
from app.models import StoreIntegration
from tests.fixtures.servers import serve_in_loop, wait_until
from tests.outbox.conftest import load
from tests.outbox.test_crash_recovery import RelayProcess, all_sent
from tests.pharmacy.live import Live, live_service, place_order
from tests.pharmacy.partner import FakePartner
from tests.prescription.world import World

pytestmark = pytest.mark.postgres

SECRET = "partner-shared-secret-fault-0123456789"


@dataclass
class ForgetfulPartner(FakePartner):
    """The fake partner (it verifies every signature), counting each delivery and each effect
    applied - per order, from the body, so a redelivery under another key would show - and
    able to leave the first delivery of a key unanswered: applied, acknowledgement lost."""

    deliveries: Counter[str] = field(default_factory=Counter)
    applied: Counter[str] = field(default_factory=Counter)
    hang_first: set[str] = field(default_factory=set)
    hanging: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _receive(self, request: Request) -> JSONResponse:
        key = request.headers.get("Idempotency-Key", "")
        self.deliveries[key] += 1
        known = len(self.received)
        answer = await super()._receive(request)
        if len(self.received) > known:  # a key seen for the first time: the effect happens
            self.applied[json.loads(await request.body())["order"]["id"]] += 1
        if key in self.hang_first and self.deliveries[key] == 1:
            self.hanging.add(key)
            await self.release.wait()
        return answer


@pytest.fixture
async def partner_and_service() -> AsyncIterator[tuple[ForgetfulPartner, Live]]:
    """The service on its own database (relay off: relay processes do it) and the partner."""
    partner = ForgetfulPartner(SECRET)
    async with serve_in_loop(partner.app()) as partner_url:

        async def integrate(session: AsyncSession, world: World) -> None:
            session.add(
                StoreIntegration(
                    store_id=world.store.id, webhook_url=f"{partner_url}/webhooks", secret=SECRET
                )
            )

        try:
            async with live_service(integrate, outbox_relay_enabled=False) as live:
                yield partner, live
        finally:
            partner.release.set()  # lets the hung handler end, so the partner can stop


async def test_partner_webhook_redelivered_after_relay_crash_is_applied_once(
    partner_and_service: tuple[ForgetfulPartner, Live],
) -> None:
    partner, live = partner_and_service
    database_url = live.world.settings.database_url
    order = await place_order(live, "fault-relay-order-1")
    key = f"partner:{order['id']}:order.created"
    partner.hang_first.add(key)
    engine = create_engine(live.world.settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        # The lease must outlive noticing the hang and killing the relay.
        first = await RelayProcess.start(
            database_url, outbox_poll_seconds="0.05", outbox_lease_seconds="3"
        )
        try:
            await wait_until(lambda: key in partner.hanging, within=30, what="the webhook sent")
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
        finally:
            with contextlib.suppress(ProcessLookupError):
                first.process.kill()
        async with sessionmaker() as session:
            unacknowledged = await load(session, key)
        assert (unacknowledged.status, unacknowledged.attempts) == ("pending", 1)
        assert partner.applied == Counter({order["id"]: 1})

        second = await RelayProcess.start(
            database_url, outbox_poll_seconds="0.1", outbox_lease_seconds="10"
        )
        try:
            await wait_until(
                lambda: all_sent(sessionmaker, [key]), within=30, what="the redelivery recorded"
            )
            assert await second.stop(signal.SIGTERM) == 0, second.log_tail()
        finally:
            with contextlib.suppress(ProcessLookupError):
                second.process.kill()
        async with sessionmaker() as session:
            delivered = await load(session, key)
    finally:
        await engine.dispose()

    assert (delivered.status, delivered.attempts) == ("sent", 2)
    assert partner.deliveries[key] == 2  # sent twice ...
    assert partner.applied == Counter({order["id"]: 1})  # ... applied once
    assert partner.refused == 0  # the redelivery was signed afresh and accepted
    assert [r.body["event_id"] for r in partner.received] == [key]
