"""The push provider over the test's transaction, talking to the app's fake WeChat message API
and fake Tencent Cloud SMS through ASGI transports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.kit.clock import utcnow
from app.models import Account, PushDelivery, PushGrant, Role
from app.notify import repository as notify_repository
from app.notify.fakes import create_fake_sms_app, fake_wechat_messages_router
from app.notify.provider import NotificationProvider, wechat_push_provider
from tests.fixtures import factories

WECHAT = "http://fake-wechat.test"
SMS = "http://fake-sms.test"
PHONE = "13934561234"


def fake_wechat_app(settings: Settings) -> FastAPI:
    """The fake message API alone (the app includes it in the fake WeChat)."""
    fake = FastAPI()
    fake.include_router(fake_wechat_messages_router(settings.wechat_appid, settings.wechat_secret))
    return fake


@pytest.fixture
def push_settings(settings: Settings) -> Settings:
    """PUSH_PROVIDER=wechat against the fakes."""
    return settings.model_copy(
        update={"push_provider": "wechat", "wechat_api_base": WECHAT, "sms_api_base": SMS}
    )


@pytest.fixture
def fake_sms(push_settings: Settings) -> httpx.ASGITransport:
    """The fake Tencent Cloud SMS, one per test."""
    s = push_settings
    return httpx.ASGITransport(
        app=create_fake_sms_app(s.sms_secret_id, s.sms_secret_key, s.sms_sdk_app_id)
    )


@pytest.fixture
async def fakes_http(
    push_settings: Settings, fake_sms: httpx.ASGITransport
) -> AsyncIterator[httpx.AsyncClient]:
    """One client reaching both fakes by host, as the shared outbox client would."""
    async with httpx.AsyncClient(
        mounts={WECHAT: httpx.ASGITransport(app=fake_wechat_app(push_settings)), SMS: fake_sms}
    ) as client:
        yield client


@pytest.fixture
def provider(
    push_settings: Settings,
    fakes_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> NotificationProvider:
    """The provider PUSH_PROVIDER=wechat builds, over the test's transaction."""
    return wechat_push_provider(push_settings, fakes_http, sessionmaker)


@dataclass
class Person:
    account: Account
    openid: str


@pytest.fixture
async def person(db_session: AsyncSession) -> Person:
    """A patient with an openid and a mobile number."""
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    patient.phone = PHONE
    await db_session.commit()
    assert account.wechat_openid is not None
    return Person(account, account.wechat_openid)


async def grant(session: AsyncSession, person: Person, template_id: str, count: int = 1) -> None:
    """Grants as if the mini-program had reported `count` accepts."""
    await notify_repository.add_grants(session, person.account.id, template_id, count, utcnow())
    await session.commit()


async def remaining(session: AsyncSession, person: Person, template_id: str) -> int | None:
    """The grants left, read afresh."""
    return await session.scalar(
        select(PushGrant.remaining).where(
            PushGrant.account_id == person.account.id, PushGrant.template_id == template_id
        )
    )


async def delivery(session: AsyncSession, key: str) -> tuple[str, str, str | None] | None:
    """(channel, status, error) of a delivery, read afresh."""
    row = (
        await session.execute(
            select(PushDelivery.channel, PushDelivery.status, PushDelivery.error).where(
                PushDelivery.idempotency_key == key
            )
        )
    ).first()
    return (row[0], row[1], row[2]) if row is not None else None


async def wechat_sent(http: httpx.AsyncClient) -> dict[str, Any]:
    """What the fake WeChat delivered, and how many tokens it issued."""
    answer: dict[str, Any] = (await http.get(f"{WECHAT}/_control/sent")).json()
    return answer


async def sms_sent(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    """What the fake SMS delivered."""
    answer: list[dict[str, Any]] = (await http.get(f"{SMS}/_control/sent")).json()["messages"]
    return answer
