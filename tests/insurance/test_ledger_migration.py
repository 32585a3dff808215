"""The ledger migration upgrades a database that already holds paid statements: the new
statuses are admitted, nothing stored changes, and the status check still refuses nonsense."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.kit.clock import utcnow
from app.models import LedgerEntry, Statement
from tests.fixtures import databases, factories

BEFORE = "0007_assignment_speed"


@pytest.fixture
async def url():
    created = await databases.create_database()
    yield created
    await databases.drop_database(created)


async def _statement(
    session: AsyncSession, institution_id: uuid.UUID, month: str, status: str
) -> uuid.UUID:
    # Core, and only the columns the old schema has.
    statement_id = uuid.uuid4()
    await session.execute(
        insert(Statement.__table__).values(
            id=statement_id,
            institution_id=institution_id,
            month=month,
            status=status,
            settlement_count=0,
            reversal_count=0,
            total_fen=0,
            fund_fen=100,
            account_fen=0,
            cash_fen=0,
            breakdown=[],
            generated_at=utcnow(),
        )
    )
    return statement_id


async def test_a_database_with_paid_statements_is_upgraded_in_place(url: str) -> None:
    await databases.migrate(url, BEFORE)
    engine = create_engine(Settings(database_url=url))
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            institution = await factories.institution(session)
            paid = await _statement(session, institution.id, "2026-03", "paid")
            # The ledger refers to the statement: the upgrade must not rebuild its table.
            transaction = uuid.uuid4()
            session.add_all(
                LedgerEntry(
                    transaction_id=transaction,
                    kind="remittance",
                    account=account,
                    amount_fen=amount,
                    institution_id=institution.id,
                    statement_id=paid,
                    posted_at=utcnow(),
                )
                for account, amount in (("bureau_remittance", 100), ("fund_receivable", -100))
            )
            await session.commit()
        await engine.dispose()
        await databases.migrate(url)
        async with sessionmaker() as session:
            kept = await session.get(Statement, paid)
            assert kept is not None
            assert (kept.status, kept.held_fen, kept.carried_in_fen, kept.payable_fen) == (
                "paid",
                0,
                0,
                100,
            )
            await _statement(session, institution.id, "2026-04", "carried")
            await session.commit()
        with pytest.raises(IntegrityError):
            async with sessionmaker() as session:
                await _statement(session, institution.id, "2026-05", "lost")
    finally:
        await engine.dispose()
