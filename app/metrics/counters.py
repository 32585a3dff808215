"""Counters of what happens in the domains, moved by the services where it happens.

They are cheap (a dict lookup and an add) and never touch the database. What a transaction
stores is counted once it has committed, so a rolled-back request counts nothing.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit
from app.models import Settlement

READINGS_STORED = Counter(
    "readings_stored_total", "Readings stored, by kind (cgm, bg, bp, ...)", ["kind"]
)
READINGS_REJECTED = Counter(
    "readings_rejected_total",
    "Uploaded readings refused, by reason (out_of_range, too_dense, unknown_device, ...)",
    ["reason"],
)
OUTBOX_DELIVERIES = Counter(
    "outbox_deliveries_total",
    "Outbox delivery attempts by kind and outcome: sent, retry (failed, tried again), dead "
    "(given up)",
    ["kind", "outcome"],
)
SETTLEMENTS = Counter(
    "insurance_settlements_total",
    "Insurance settlements booked, by kind (settlement, reversal)",
    ["kind"],
)
SETTLED_FEN = Counter(
    "insurance_settled_fen_total",
    "Settled amounts in fen, by settlement kind and part: total, fund (what the fund pays), "
    "personal (what the patient pays); a reversal counts the amounts it gives back, so what "
    "stands is kind=settlement minus kind=reversal",
    ["kind", "part"],
)


def count_rejected_readings(reasons: Iterable[str]) -> None:
    """Count refused readings (refused whether or not the batch's good ones commit)."""
    for reason, count in Tally(reasons).items():
        READINGS_REJECTED.labels(reason).inc(count)


def count_stored_readings(session: AsyncSession, kinds: Iterable[str]) -> None:
    """Count stored readings once the session commits them."""
    tally = Tally(kinds)

    async def count() -> None:
        for kind, stored in tally.items():
            READINGS_STORED.labels(kind).inc(stored)

    after_commit(session, count)


def count_outbox_delivery(kind: str, outcome: str) -> None:
    """Count one recorded delivery outcome (sent, retry or dead)."""
    OUTBOX_DELIVERIES.labels(kind, outcome).inc()


def count_settlement(session: AsyncSession, settlement: Settlement) -> None:
    """Count a settlement or reversal and its amounts once the session commits it."""
    amounts = {
        "total": settlement.total_fen,
        "fund": settlement.fund_fen,
        "personal": settlement.personal_fen,
    }
    kind = settlement.kind

    async def count() -> None:
        SETTLEMENTS.labels(kind).inc()
        for part, fen in amounts.items():
            SETTLED_FEN.labels(kind, part).inc(abs(fen))

    after_commit(session, count)
