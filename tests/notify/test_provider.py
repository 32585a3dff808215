"""PUSH_PROVIDER=wechat: grants, the access token, WeChat's refusals and the SMS fallback."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import WeChatTemplate
from app.notify.provider import NotificationProvider, wechat_push_provider
from app.outbox.push import PushNotification
from app.outbox.types import PermanentDeliveryError, RetryableDeliveryError
from tests.notify.conftest import (
    PHONE,
    SMS,
    WECHAT,
    Person,
    delivery,
    grant,
    remaining,
    sms_sent,
    wechat_sent,
)

CHAT_TPL = "dev-tpl-chat"
ALERT_TPL = "dev-tpl-alert"


def chat_push(person: Person) -> PushNotification:
    return PushNotification(
        recipient=str(person.account.id),
        template="chat_new_message",
        data={
            "sender_name": "王医生",
            "summary": "您有一条新消息",
            "sent_at": datetime(2026, 12, 7, 1, 30, tzinfo=UTC).isoformat(),
            "conversation_id": "c1",
        },
        page="pages/chat/conversation?id=c1",
    )


def alert_push(person: Person) -> PushNotification:
    return PushNotification(
        recipient=str(person.account.id),
        template="alert_raised",
        data={"summary": "血糖过低，请立即处理", "started_at": "2026-12-07T01:30:00+00:00"},
        page="pages/alerts/detail?id=a1",
    )


async def test_a_grant_sends_one_fitted_message_and_is_used_up(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL)
    await provider.send(chat_push(person), "k1")
    [message] = (await wechat_sent(fakes_http))["messages"]
    assert message["touser"] == person.openid
    assert message["template_id"] == CHAT_TPL
    assert message["page"] == "pages/chat/conversation?id=c1"
    assert message["miniprogram_state"] == "formal" and message["lang"] == "zh_CN"
    assert message["data"] == {
        "name1": {"value": "王医生"},
        "thing2": {"value": "您有一条新消息"},
        "time3": {"value": "2026-12-07 09:30"},  # Asia/Shanghai
    }
    assert await remaining(db_session, person, CHAT_TPL) == 0
    assert await delivery(db_session, "k1") == ("wechat", "sent", None)


async def test_without_a_grant_nothing_reaches_wechat(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await provider.send(chat_push(person), "k1")
    assert (await wechat_sent(fakes_http))["messages"] == []
    assert await sms_sent(fakes_http) == []
    assert await delivery(db_session, "k1") == ("none", "skipped", None)


async def test_a_critical_kind_without_a_grant_goes_by_sms(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await provider.send(alert_push(person), "k1")
    assert (await wechat_sent(fakes_http))["messages"] == []
    [sms] = await sms_sent(fakes_http)
    assert sms["PhoneNumberSet"] == [f"+86{PHONE}"]
    assert sms["TemplateId"] == "100003"
    assert sms["TemplateParamSet"] == ["血糖过低，请立即处理"]
    assert sms["SessionContext"] == "k1"
    assert await delivery(db_session, "k1") == ("sms", "sent", None)


@pytest.mark.parametrize("control", ["expire-token", "revoke-token"])
async def test_a_refused_token_is_replaced_and_the_message_sent_again(
    provider: NotificationProvider,
    person: Person,
    db_session: AsyncSession,
    fakes_http: httpx.AsyncClient,
    control: str,
) -> None:
    await grant(db_session, person, CHAT_TPL, count=2)
    await provider.send(chat_push(person), "k1")
    await fakes_http.post(f"{WECHAT}/_control/{control}")  # 42001 / 40001 from now on
    await provider.send(chat_push(person), "k2")
    sent = await wechat_sent(fakes_http)
    assert len(sent["messages"]) == 2
    assert sent["tokens_issued"] == 2
    assert await remaining(db_session, person, CHAT_TPL) == 0


async def test_the_token_is_fetched_once_for_many_messages(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL, count=3)
    for key in ("k1", "k2", "k3"):
        await provider.send(chat_push(person), key)
    assert (await wechat_sent(fakes_http))["tokens_issued"] == 1


async def test_43101_clears_the_grants_and_ends_the_message(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL, count=3)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": 43101})
    with pytest.raises(PermanentDeliveryError, match="43101"):
        await provider.send(chat_push(person), "k1")
    assert await remaining(db_session, person, CHAT_TPL) == 0
    channel, status, error = await delivery(db_session, "k1") or ("", "", None)
    assert (channel, status) == ("wechat", "refused") and "43101" in (error or "")


async def test_43101_on_a_critical_kind_falls_back_to_sms(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, ALERT_TPL)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": 43101})
    await provider.send(alert_push(person), "k1")
    assert len(await sms_sent(fakes_http)) == 1
    channel, status, error = await delivery(db_session, "k1") or ("", "", None)
    assert (channel, status) == ("sms", "sent") and "43101" in (error or "")


async def test_the_daily_quota_ends_the_message_and_gives_the_grant_back(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": 45009})
    with pytest.raises(PermanentDeliveryError, match="45009"):
        await provider.send(chat_push(person), "k1")
    assert await remaining(db_session, person, CHAT_TPL) == 1
    assert (await delivery(db_session, "k1") or ("",))[:2] == ("wechat", "failed")


async def test_a_busy_wechat_is_retried_on_the_grant_already_held(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL, count=2)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": -1})
    with pytest.raises(RetryableDeliveryError):
        await provider.send(chat_push(person), "k1")
    assert await remaining(db_session, person, CHAT_TPL) == 1
    await provider.send(chat_push(person), "k1")  # the outbox's redelivery
    assert len((await wechat_sent(fakes_http))["messages"]) == 1
    assert await remaining(db_session, person, CHAT_TPL) == 1
    assert await delivery(db_session, "k1") == ("wechat", "sent", None)


async def test_a_delivered_message_is_not_sent_again(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL, count=2)
    await provider.send(chat_push(person), "k1")
    await provider.send(chat_push(person), "k1")
    assert len((await wechat_sent(fakes_http))["messages"]) == 1
    assert await remaining(db_session, person, CHAT_TPL) == 1


async def test_data_that_cannot_be_fitted_ends_the_message_and_keeps_the_grant(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await grant(db_session, person, CHAT_TPL)
    push = chat_push(person)
    del push.data["sent_at"]
    with pytest.raises(PermanentDeliveryError, match="time3"):
        await provider.send(push, "k1")
    assert (await wechat_sent(fakes_http))["messages"] == []
    assert await remaining(db_session, person, CHAT_TPL) == 1


async def test_an_sms_refusal_ends_the_message_and_a_vendor_error_is_retried(
    provider: NotificationProvider, person: Person, db_session: AsyncSession, fakes_http
) -> None:
    await fakes_http.post(
        f"{SMS}/_control/fail-next", json={"code": "LimitExceeded.PhoneNumberDailyLimit"}
    )
    with pytest.raises(PermanentDeliveryError, match="PhoneNumberDailyLimit"):
        await provider.send(alert_push(person), "k1")
    await fakes_http.post(f"{SMS}/_control/fail-next", json={"code": "InternalError.Timeout"})
    with pytest.raises(RetryableDeliveryError):
        await provider.send(alert_push(person), "k2")
    await provider.send(alert_push(person), "k2")
    assert len(await sms_sent(fakes_http)) == 1


async def test_a_recipient_that_is_not_an_account_id_is_refused(
    provider: NotificationProvider,
) -> None:
    push = PushNotification(recipient="o-some-openid", template="chat_new_message")
    with pytest.raises(PermanentDeliveryError, match="account id"):
        await provider.send(push, "k1")


async def test_logs_never_hold_a_full_openid_or_phone_number(
    provider: NotificationProvider,
    person: Person,
    db_session: AsyncSession,
    fakes_http,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    await grant(db_session, person, CHAT_TPL)
    await fakes_http.post(f"{WECHAT}/_control/fail-next", json={"errcode": 40003})
    with pytest.raises(PermanentDeliveryError):
        await provider.send(chat_push(person), "k1")
    await provider.send(alert_push(person), "k2")
    # Through the stdlib once the app configured logging, printed by structlog before that.
    text = caplog.text + capsys.readouterr().out
    assert "wechat subscription message refused" in text and "sms sent" in text
    assert person.openid not in text and PHONE not in text
    assert person.openid[-4:] in text and PHONE[-4:] in text  # masked, still traceable


async def test_an_unknown_account_ends_the_message(provider: NotificationProvider) -> None:
    push = PushNotification(recipient=str(uuid.uuid4()), template="alert_raised")
    with pytest.raises(PermanentDeliveryError, match="no such account"):
        await provider.send(push, "k1")


def test_a_template_with_an_unknown_field_type_is_refused_at_startup(
    push_settings, fakes_http, sessionmaker
) -> None:
    odd = WeChatTemplate(template_id="t", fields={"colour1": "summary"})
    settings = push_settings.model_copy(update={"wechat_templates": {"chat_new_message": odd}})
    with pytest.raises(ValueError, match="colour1"):
        wechat_push_provider(settings, fakes_http, sessionmaker)
