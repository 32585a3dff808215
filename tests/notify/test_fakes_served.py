"""The app serves its fake WeChat message API and fake SMS in development (never in prod), and
the whole path runs through them: the mini-program reports a grant, a notification uses it."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.models import Role
from app.notify.provider import wechat_push_provider
from app.outbox.push import PushNotification
from app.outbox.types import PermanentDeliveryError
from tests.fixtures import factories
from tests.fixtures.prod_settings import PROD_SETTINGS
from tests.notify.conftest import Person, grant

BASE = "http://testserver"


@pytest.fixture
def through_app(
    settings: Settings, client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
):
    """The provider as configured for development: the app's own fakes."""
    dev = settings.model_copy(
        update={
            "push_provider": "wechat",
            "wechat_api_base": f"{BASE}/_dev/wechat",
            "sms_api_base": f"{BASE}/_dev/sms",
        }
    )
    return wechat_push_provider(dev, client, sessionmaker)


async def test_a_reported_grant_carries_one_message_through_the_served_fake(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, through_app
) -> None:
    account = await factories.account(db_session, Role.patient)
    auth = await factories.bearer(db_session, settings, account)
    report = {"results": {"dev-tpl-alert": "accept"}}
    await client.post(
        "/api/v1/me/subscription-grants", json=report, headers={**auth, "Idempotency-Key": "g1"}
    )
    await db_session.commit()
    push = PushNotification(
        recipient=str(account.id),
        template="alert_raised",
        data={"summary": "紧急低血糖", "started_at": "2026-12-07T01:00:00+00:00"},
    )
    await through_app.send(push, "alert_raised:1")
    sent = (await client.get("/_dev/wechat/_control/sent")).json()["messages"]
    assert [(m["touser"], m["template_id"]) for m in sent] == [
        (account.wechat_openid, "dev-tpl-alert")
    ]
    # The grant is used up: the next one (no phone on file) has nowhere to go.
    await through_app.send(push, "alert_raised:2")
    assert len((await client.get("/_dev/wechat/_control/sent")).json()["messages"]) == 1


async def test_the_served_sms_fake_checks_the_signature_of_its_host(
    client: httpx.AsyncClient, db_session: AsyncSession, through_app
) -> None:
    account = await factories.account(db_session, Role.patient)
    (await factories.patient_of(db_session, account)).phone = "13934561234"
    await db_session.commit()
    push = PushNotification(
        recipient=str(account.id), template="delivery_failed", data={"order_no": "A1"}
    )
    await through_app.send(push, "delivery_failed:1")
    [sms] = (await client.get("/_dev/sms/_control/sent")).json()["messages"]
    assert sms["TemplateParamSet"] == ["A1", ""]


async def test_43101_without_a_phone_ends_the_message(
    client: httpx.AsyncClient, db_session: AsyncSession, through_app
) -> None:
    account = await factories.account(db_session, Role.patient)
    await grant(db_session, Person(account, account.wechat_openid or ""), "dev-tpl-chat")
    await client.post("/_dev/wechat/_control/fail-next", json={"errcode": 43101})
    push = PushNotification(
        recipient=str(account.id),
        template="chat_new_message",
        data={"sender_name": "王医生", "summary": "新消息", "sent_at": "2026-12-07T01:00:00Z"},
    )
    with pytest.raises(PermanentDeliveryError, match="43101"):
        await through_app.send(push, "chat:1")


async def test_without_the_fakes_nothing_is_served(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"fake_wechat_enabled": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        assert (await c.post("/_dev/wechat/cgi-bin/stable_token", json={})).status_code == 404
        assert (await c.post("/_dev/sms/", json={})).status_code == 404


def test_prod_refuses_the_development_sms_key_when_messages_are_sent() -> None:
    with pytest.raises(ValidationError, match="SMS_SECRET_KEY"):
        Settings(**{**PROD_SETTINGS, "push_provider": "wechat"})
    strong = {"push_provider": "wechat", "sms_secret_key": "a-real-key-from-the-console"}
    assert Settings(**{**PROD_SETTINGS, **strong}).push_provider == "wechat"
