"""An SMS reaches a person at most once: the delivery is committed as `sending` before
Tencent Cloud is called, so a relay that dies between the call and recording its outcome (or a
call that breaks off after the request left) leaves an `unknown` delivery that is not sent
again; Tencent's delivery report, pulled by the SessionContext the message carried, settles it.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.notify import jobs as notify_jobs
from app.notify.provider import NotificationProvider, wechat_push_provider
from app.notify.sms import SmsReport, tencent_sms_client
from app.outbox.types import PermanentDeliveryError, RetryableDeliveryError
from tests.notify.conftest import SMS, Person, delivery, sms_sent
from tests.notify.test_provider import alert_push


class RelayKilled(Exception):
    """Stands for the relay process dying (or its lease running out) mid-delivery."""


class SentThenBroken(httpx.AsyncBaseTransport):
    """Hands the request to the fake, then fails as `failure` would after it left."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failure: type[Exception]) -> None:
        self._inner, self._failure = inner, failure

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._inner.handle_async_request(request)
        raise self._failure("after the request left")


class NeverConnects(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def provider_over(
    transport: httpx.AsyncBaseTransport,
    push_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> NotificationProvider:
    http = httpx.AsyncClient(mounts={SMS: transport})
    return wechat_push_provider(push_settings, http, sessionmaker)


async def test_a_relay_dying_after_the_sms_left_never_sends_it_again(
    provider: NotificationProvider,
    person: Person,
    db_session: AsyncSession,
    fakes_http: httpx.AsyncClient,
    push_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def killed(*_: object, **__: object) -> None:
        raise RelayKilled()

    # Tencent took the message; the relay dies before step 3 records it.
    monkeypatch.setattr(provider, "_finish", killed)
    with pytest.raises(RelayKilled):
        await provider.send(alert_push(person), "k1")
    assert await delivery(db_session, "k1") == ("sms", "sending", None)
    monkeypatch.undo()

    # The outbox redelivers the message: nothing is sent, the outcome is unknown.
    await provider.send(alert_push(person), "k1")
    await provider.send(alert_push(person), "k1")
    assert len(await sms_sent(fakes_http)) == 1
    assert await delivery(db_session, "k1") == ("sms", "unknown", None)

    # Tencent's delivery report, found by the SessionContext, settles it.
    sms = tencent_sms_client(push_settings, fakes_http)
    assert await notify_jobs.settle_reports(sessionmaker, sms) == 1
    assert await delivery(db_session, "k1") == ("sms", "sent", None)
    assert await notify_jobs.settle_reports(sessionmaker, sms) == 0
    assert len(await sms_sent(fakes_http)) == 1


async def test_a_call_broken_off_after_it_left_ends_unknown_and_is_not_retried(
    person: Person,
    db_session: AsyncSession,
    fakes_http: httpx.AsyncClient,
    fake_sms: httpx.ASGITransport,
    push_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    broken = provider_over(SentThenBroken(fake_sms, httpx.ReadTimeout), push_settings, sessionmaker)
    with pytest.raises(PermanentDeliveryError, match="outcome unknown"):
        await broken.send(alert_push(person), "k1")
    assert await delivery(db_session, "k1") == ("sms", "unknown", "ReadTimeout")
    sound = provider_over(fake_sms, push_settings, sessionmaker)
    await sound.send(alert_push(person), "k1")
    assert len(await sms_sent(fakes_http)) == 1


async def test_a_connection_never_made_is_retried_and_sent_once(
    person: Person,
    db_session: AsyncSession,
    fakes_http: httpx.AsyncClient,
    fake_sms: httpx.ASGITransport,
    push_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    unreachable = provider_over(NeverConnects(), push_settings, sessionmaker)
    with pytest.raises(RetryableDeliveryError, match="unreachable"):
        await unreachable.send(alert_push(person), "k1")
    assert await delivery(db_session, "k1") == ("sms", "reserved", "ConnectError")
    sound = provider_over(fake_sms, push_settings, sessionmaker)
    await sound.send(alert_push(person), "k1")
    assert len(await sms_sent(fakes_http)) == 1
    channel, status, _ = await delivery(db_session, "k1") or ("", "", None)
    assert (channel, status) == ("sms", "sent")


class Reports:
    """A Tencent client whose only reports are these."""

    def __init__(self, *reports: SmsReport) -> None:
        self._reports = list(reports)

    async def pull_reports(self) -> list[SmsReport]:
        reports, self._reports = self._reports, []
        return reports


async def test_a_failed_report_settles_an_unknown_sms_as_failed_and_others_are_left(
    provider: NotificationProvider,
    person: Person,
    db_session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def killed(*_: object, **__: object) -> None:
        raise RelayKilled()

    await provider.send(alert_push(person), "delivered")
    monkeypatch.setattr(provider, "_finish", killed)
    with pytest.raises(RelayKilled):
        await provider.send(alert_push(person), "lost")
    monkeypatch.undo()
    await provider.send(alert_push(person), "lost")
    reports = Reports(
        SmsReport("lost", "FAIL", "MK:0001", "s1"),
        SmsReport("delivered", "FAIL", "late", "s2"),  # already settled: left as it is
        SmsReport("", "SUCCESS", "DELIVRD", "s3"),  # sent by something else
    )
    assert await notify_jobs.settle_reports(sessionmaker, reports) == 1
    assert await delivery(db_session, "lost") == ("sms", "failed", "SMS report FAIL: MK:0001")
    assert await delivery(db_session, "delivered") == ("sms", "sent", None)
