"""Grants under concurrency, on PostgreSQL with real transactions: many messages racing for
fewer grants send exactly as many as there were grants, and the count never goes below zero."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.kit.clock import utcnow
from app.models import PushDelivery, PushGrant, Role
from app.notify import repository as notify_repository
from app.notify.provider import wechat_push_provider
from app.outbox.push import PushNotification
from tests.fixtures import databases, factories
from tests.notify.conftest import wechat_sent

pytestmark = pytest.mark.postgres

RACERS = 6
GRANTS = 2


async def test_racing_messages_use_each_grant_exactly_once(
    push_settings: Settings, fakes_http: httpx.AsyncClient
) -> None:
    url = await databases.create_migrated_database()
    engine = create_engine(push_settings.model_copy(update={"database_url": url}))
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            account = await factories.account(session, Role.patient)
            await notify_repository.add_grants(
                session, account.id, "dev-tpl-chat", GRANTS, utcnow()
            )
            await session.commit()
        provider = wechat_push_provider(push_settings, fakes_http, sessionmaker)
        push = PushNotification(
            recipient=str(account.id),
            template="chat_new_message",
            data={"sender_name": "王医生", "summary": "新消息", "sent_at": utcnow().isoformat()},
        )
        await asyncio.gather(*(provider.send(push, f"race-{i}") for i in range(RACERS)))
        assert len((await wechat_sent(fakes_http))["messages"]) == GRANTS
        async with sessionmaker() as session:
            assert await session.scalar(select(PushGrant.remaining)) == 0
            statuses = await session.execute(
                select(PushDelivery.status, func.count()).group_by(PushDelivery.status)
            )
            assert dict(statuses.all()) == {"sent": GRANTS, "skipped": RACERS - GRANTS}
    finally:
        await engine.dispose()
        await databases.drop_database(url)
