"""Notifications through the real relay: a 43101 or a quota error kills the message at the
first attempt (never retried), a busy WeChat is retried, and the outbox keeps no address."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import OutboxMessage
from app.notify.provider import NotificationProvider
from app.outbox import service as outbox_service
from app.outbox.handlers import PUSH_NOTIFICATION, push_notification_handler
from app.outbox.relay import OutboxRelay
from tests.notify.conftest import PHONE, WECHAT, Person, grant, wechat_sent

CHAT_TPL = "dev-tpl-chat"


async def _queue(sessionmaker: async_sessionmaker[AsyncSession], person: Person, key: str) -> None:
    async with sessionmaker() as session, session.begin():
        await outbox_service.enqueue(
            session,
            PUSH_NOTIFICATION,
            {
                "recipient": str(person.account.id),
                "template": "chat_new_message",
                "data": {
                    "sender_name": "王医生",
                    "summary": "新消息",
                    "sent_at": "2026-12-07T01:00:00Z",
                },
            },
            key,
        )


async def _row(db_session: AsyncSession, key: str) -> OutboxMessage:
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return (await db_session.scalars(statement)).one()


@pytest.fixture
def relay(
    provider: NotificationProvider,
    sessionmaker: async_sessionmaker[AsyncSession],
    push_settings: Settings,
) -> OutboxRelay:
    return OutboxRelay(
        sessionmaker, {PUSH_NOTIFICATION: push_notification_handler(provider)}, push_settings
    )


@pytest.mark.parametrize("errcode", [43101, 45009])
async def test_refusals_are_final_at_the_first_attempt(
    relay: OutboxRelay,
    sessionmaker,
    db_session: AsyncSession,
    person: Person,
    fakes_http: httpx.AsyncClient,
    errcode: int,
) -> None:
    await grant(db_session, person, CHAT_TPL)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": errcode})
    await _queue(sessionmaker, person, "m1")
    assert await relay.run_once() == 1
    row = await _row(db_session, "m1")
    assert (row.status, row.attempts) == ("dead", 1)
    assert str(errcode) in (row.last_error or "")
    assert person.openid not in str(row.payload) + (row.last_error or "")
    assert PHONE not in str(row.payload) + (row.last_error or "")


async def test_a_busy_wechat_is_retried_then_sent(
    relay: OutboxRelay,
    sessionmaker,
    db_session: AsyncSession,
    person: Person,
    fakes_http: httpx.AsyncClient,
) -> None:
    await grant(db_session, person, CHAT_TPL)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": -1})
    await _queue(sessionmaker, person, "m1")
    await relay.run_once()
    row = await _row(db_session, "m1")
    assert row.status == "pending" and row.attempts == 1
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == "m1")
            .values(next_attempt_at=row.created_at)
        )
    await relay.run_once()
    assert (await _row(db_session, "m1")).status == "sent"
    assert len((await wechat_sent(fakes_http))["messages"]) == 1
