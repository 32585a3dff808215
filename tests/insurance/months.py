"""A bureau's months for statement tests: settlements booked on given days, and API calls
made at a given moment by a given account (signed in at that moment, as the service judges
tokens by its own clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.insurance import settlement as settlement_service
from app.kit.clock import frozen_at
from app.models import Account, Patient, Role, Settlement
from tests.fixtures import factories
from tests.insurance import world as w

STATEMENTS = "/api/v1/insurance/statements"
MARCH = "2026-03"
APRIL = "2026-04"
MAY = "2026-05"
# Moments (UTC) well inside the Asia/Shanghai day.
MARCH_10 = datetime(w.YEAR, 3, 10, 2, tzinfo=UTC)
APRIL_2 = datetime(w.YEAR, 4, 2, 2, tzinfo=UTC)
APRIL_10 = datetime(w.YEAR, 4, 10, 2, tzinfo=UTC)
MAY_2 = datetime(w.YEAR, 5, 2, 2, tzinfo=UTC)
MAY_10 = datetime(w.YEAR, 5, 10, 2, tzinfo=UTC)
JUNE_2 = datetime(w.YEAR, 6, 2, 2, tzinfo=UTC)


@dataclass
class Office:
    """The world, one insured patient and a bureau clerk, with an API client."""

    client: httpx.AsyncClient
    session: AsyncSession
    settings: Settings
    world: w.World
    patient: Patient
    bureau: Account

    async def settle(self, at: datetime, quantity: int = 15) -> Settlement:
        """A settlement of `quantity` full-class drugs booked at `at`."""
        with frozen_at(at):
            return await settlement_service.settle(
                self.session,
                w.claim(self.world, self.patient, [(self.world.full, quantity)], moment=at),
                w.message_id(),
            )

    async def reverse(self, at: datetime, settlement: Settlement) -> Settlement:
        """Reverse a settlement at `at` (e.g. a late failed delivery)."""
        with frozen_at(at):
            return await settlement_service.reverse(
                self.session, settlement.id, "delivery_failed", w.message_id()
            )

    async def call(
        self, at: datetime, method: str, url: str, who: Account | None = None, **kwargs: Any
    ) -> httpx.Response:
        """An API request made at `at` by `who` (the bureau clerk by default)."""
        with frozen_at(at):
            headers = await factories.bearer(self.session, self.settings, who or self.bureau)
            return await self.client.request(method, url, headers=headers, **kwargs)

    async def statement(self, at: datetime, month: str) -> dict[str, Any]:
        """Generate (or fetch) the institution's statement of `month` at `at`."""
        response = await self.call(
            at,
            "POST",
            STATEMENTS,
            json={"institution_id": str(self.world.institution.id), "month": month},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def confirm(self, at: datetime, statement: dict[str, Any]) -> dict[str, Any]:
        """Confirm a statement."""
        response = await self.call(at, "POST", f"{STATEMENTS}/{statement['id']}/confirm")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def pay(
        self, at: datetime, statement: dict[str, Any], amount_fen: int | None = None
    ) -> httpx.Response:
        """Record the bureau's payment of a statement (its payable by default)."""
        return await self.call(
            at,
            "POST",
            f"{STATEMENTS}/{statement['id']}/payment",
            json={
                "amount_fen": statement["payable_fen"] if amount_fen is None else amount_fen,
                "reference": f"YB-{statement['month']}",
                "paid_on": at.date().isoformat(),
            },
        )

    async def reconcile(self, at: datetime, statement: dict[str, Any]) -> dict[str, Any]:
        """The statement's reconciliation."""
        response = await self.call(at, "GET", f"{STATEMENTS}/{statement['id']}/reconciliation")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def detail(self, at: datetime, statement: dict[str, Any]) -> dict[str, Any]:
        """The statement's JSON export."""
        response = await self.call(at, "GET", f"{STATEMENTS}/{statement['id']}")
        assert response.status_code == 200, response.text
        return dict(response.json())


async def office(client: httpx.AsyncClient, session: AsyncSession, settings: Settings) -> Office:
    """A fresh world with a patient and a bureau clerk."""
    world = await w.build(session)
    patient = await w.patient(session)
    bureau = await factories.account(session, Role.bureau)
    return Office(client, session, settings, world, patient, bureau)


def payable(row: Settlement) -> int:
    """What a settlement adds to the bureau's payable."""
    return row.fund_fen + row.account_fen
