"""A month's statement at the pilot's size passes its settlements around as one list.

At 30,000 patients with a refill a month, a month holds ~30,000 settlements (and their
reversals). Every query a statement, its view and its reconciliation make with the month's
ids must take that list whole: asyncpg refuses a statement with more than 32,767 parameters,
which an `IN` with one placeholder per id reaches (`app.kit.sql.one_of` sends one array).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.insurance import flag_repository, statement_repository
from app.insurance import repository as insurance_repository
from app.insurance_platform import repository as platform_repository
from app.payment import repository as payment_repository

MONTH_OF_SETTLEMENTS = 40_000  # beyond asyncpg's 32,767 parameters, above the pilot's month

QUERIES: dict[str, Callable[[Any, list[uuid.UUID]], Awaitable[Any]]] = {
    "statement lines": statement_repository.lines_of,
    "released": statement_repository.released_ids,
    "release of": statement_repository.release_of,
    "ledger sums": lambda s, ids: statement_repository.ledger_sums(s, ids, ("settlement",)),
    "unbalanced transactions": statement_repository.unbalanced_transactions,
    "collected by payment": statement_repository.collected_by_payment,
    "corrections": lambda s, ids: statement_repository.corrections_touching(s, uuid.uuid4(), ids),
    "flags": flag_repository.flags_of,
    "disputes": flag_repository.disputes,
    "flag counts": insurance_repository.flag_counts,
    "reversals": insurance_repository.reversals_of,
    "payments": payment_repository.payments_of,
    "refunds": payment_repository.refunds_of,
    "refunded totals": payment_repository.refunded_totals,
    "platform settlements (3201/3202)": platform_repository.platform_settlements_for,
}


@pytest.mark.parametrize("query", list(QUERIES))
async def test_a_month_of_settlement_ids_is_one_query(db_session, query) -> None:
    if db_session.get_bind().dialect.name != "postgresql":
        pytest.skip("set TEST_POSTGRES_URL to run")
    ids = [uuid.uuid4() for _ in range(MONTH_OF_SETTLEMENTS)]
    answer = await QUERIES[query](db_session, ids)
    # None of the ids is stored: nothing is found.
    assert len(answer) == 0
