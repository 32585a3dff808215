"""Refunds under concurrency on PostgreSQL, against committed data: a hand-back recorded from
several devices at once, a retry pressed several times, and a provider's news delivered in
parallel each change the refund once and book it once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.authz.principal import Principal
from app.db import create_sessionmaker, unit_of_work
from app.insurance import settlement as settlement_service
from app.models import LedgerEntry, Payment, PaymentRefund, Role
from app.payment import refunds
from app.payment.providers.outcomes import ProviderRefund, ProviderRefundStatus
from app.payment.schemas import HandOverPayment
from app.payment.service import record_hand_over
from tests.fixtures import factories
from tests.insurance import world as w

pytestmark = pytest.mark.postgres
PARALLEL = 6


def _staff(account, role: Role, store_id: uuid.UUID) -> Principal:
    return Principal(account.id, uuid.uuid4(), role, account.display_name, store_id=store_id)


@pytest.fixture
async def owed(engine):
    """A cash payment of a reversed settlement, committed for real: its refund is owed."""
    sessionmaker = create_sessionmaker(engine)
    async with unit_of_work(sessionmaker) as session:
        world = await w.build(session)
        patient = await w.patient(session)
        courier = _staff(
            await factories.account(session, Role.courier), Role.courier, world.store.id
        )
        pharmacist = _staff(
            await factories.account(session, Role.pharmacist), Role.pharmacist, world.store.id
        )
        settled = await settlement_service.settle(
            session, w.claim(world, patient, [(world.full, 15)]), w.message_id()
        )
        await record_hand_over(
            session,
            courier,
            settled,
            HandOverPayment(method="cash", amount_fen=settled.cash_fen, collection_id=uuid.uuid4()),
        )
        await settlement_service.reverse(session, settled.id, "cold chain", w.message_id())
        refund = await session.scalar(
            select(PaymentRefund)
            .join(Payment, Payment.id == PaymentRefund.payment_id)
            .where(Payment.settlement_id == settled.id)
        )
    return sessionmaker, refund, courier, pharmacist


async def _refund_bookings(sessionmaker, refund: PaymentRefund) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
                    LedgerEntry.payment_id == refund.payment_id, LedgerEntry.kind == "refund"
                )
            )
        )


async def test_parallel_hand_backs_book_the_refund_once(owed) -> None:
    sessionmaker, refund, courier, _ = owed

    async def hand_back() -> str:
        async with unit_of_work(sessionmaker) as session:
            return (await refunds.hand_back(session, courier, refund.id)).status

    assert await asyncio.gather(*(hand_back() for _ in range(PARALLEL))) == ["succeeded"] * PARALLEL
    assert await _refund_bookings(sessionmaker, refund) == 1


async def test_parallel_retries_of_a_failed_refund_make_one_new_refund(owed) -> None:
    sessionmaker, refund, _, pharmacist = owed
    async with unit_of_work(sessionmaker) as session:
        failed = ProviderRefund(ProviderRefundStatus.failed, detail="CLOSED")
        await refunds.apply_provider_news(session, refund.out_refund_no, failed)

    async def retry() -> uuid.UUID:
        async with unit_of_work(sessionmaker) as session:
            return (await refunds.retry(session, pharmacist, refund.id)).id

    assert len(set(await asyncio.gather(*(retry() for _ in range(PARALLEL))))) == 1
    async with sessionmaker() as session:
        retries = await session.scalar(
            select(func.count()).where(PaymentRefund.retry_of_id == refund.id)
        )
    assert retries == 1


async def test_parallel_news_of_success_books_the_refund_once(owed) -> None:
    sessionmaker, refund, _, _ = owed
    news = ProviderRefund(ProviderRefundStatus.succeeded, "50000000001")

    async def apply() -> str:
        async with unit_of_work(sessionmaker) as session:
            return await refunds.apply_provider_news(session, refund.out_refund_no, news)

    outcomes = await asyncio.gather(*(apply() for _ in range(PARALLEL)))
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * (PARALLEL - 1)
    assert await _refund_bookings(sessionmaker, refund) == 1
