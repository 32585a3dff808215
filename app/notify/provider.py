"""The `wechat` push provider: a subscription message where the person left a grant, an SMS
for the kinds that must reach them when none is left, nothing otherwise.

The outbox carries the recipient's account id, never an address: the openid and the phone
number are read here, at sending time, and appear in logs only masked. A delivery runs in
three steps: (1) in one transaction, a grant is taken (or the SMS chosen) and the delivery
recorded under the outbox message's idempotency key; (2) WeChat or Tencent Cloud is called
outside any transaction; (3) the outcome is recorded. A redelivered message finds its
delivery and reuses the grant it holds, so a grant is used up once per message; WeChat's
43101 (not subscribed) and quota errors end the message instead of retrying it.

An SMS is sent at most once: before Tencent Cloud is called the delivery is committed as
`sending`. A relay that dies (or whose lease runs out) between the call and step 3 leaves it
so; the redelivered message finds it `sending`, marks it `unknown` and sends nothing. Neither
is a call that broke off after the request left (a read timeout) resent. The SMS carries the
idempotency key as its `SessionContext`, so `app/notify/jobs.py` settles an unknown delivery
from Tencent's delivery report (PullSmsSendStatus). Only an answered refusal (nothing was
sent) or a connection never made puts the delivery back to `reserved` for another attempt.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, SmsTemplate, WeChatTemplate
from app.db import unit_of_work
from app.kit.clock import utcnow
from app.models import PushChannel, PushDelivery, PushDeliveryStatus
from app.notify import repository as notify_repository
from app.notify.fields import UnfittableValue, field_type, fitted_data
from app.notify.sms import SmsError, TencentSmsClient, tencent_sms_client
from app.notify.tokens import AccessTokenCache, FetchToken, InProcessTokenCache, RedisTokenCache
from app.notify.wechat import NOT_SUBSCRIBED, SubscribeMessageClient, WeChatMessageError
from app.outbox.push import PushNotification
from app.outbox.types import PermanentDeliveryError, RetryableDeliveryError

log = structlog.get_logger(__name__)

_ERROR_CHARS = 300


@dataclass(frozen=True)
class _Plan:
    """What step 1 decided for one message."""

    channel: PushChannel
    openid: str | None
    phone: str | None


class NotificationProvider:
    """Delivers `push.notification` messages through WeChat, or SMS, or not at all."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        wechat: SubscribeMessageClient,
        sms: TencentSmsClient,
        wechat_templates: dict[str, WeChatTemplate],
        sms_templates: dict[str, SmsTemplate],
    ) -> None:
        self._sessionmaker = sessionmaker
        self._wechat, self._sms = wechat, sms
        self._wechat_templates, self._sms_templates = wechat_templates, sms_templates

    async def send(self, notification: PushNotification, idempotency_key: str) -> None:
        """Deliver one notification (see the module's docstring for the steps)."""
        try:
            account_id = uuid.UUID(notification.recipient)
        except ValueError:
            raise PermanentDeliveryError("push recipient must be an account id") from None
        kind = notification.template
        bound = log.bind(kind=kind, account_id=str(account_id), idempotency_key=idempotency_key)
        plan = await self._plan(account_id, kind, idempotency_key)
        if plan is None:
            bound.info("push already delivered or ended")
            return
        if plan.channel == PushChannel.none:
            bound.info("push not sent: no subscription grant and no SMS for this kind")
            return
        if plan.channel == PushChannel.wechat:
            if plan.openid is None:
                await self._finish(idempotency_key, PushDeliveryStatus.failed, "no openid")
                raise PermanentDeliveryError("the account has no WeChat openid any more")
            fallback = plan.phone is not None
            if await self._send_wechat(
                account_id, plan.openid, notification, idempotency_key, fallback
            ):
                return
            if not fallback:
                raise PermanentDeliveryError(f"WeChat errcode {NOT_SUBSCRIBED}: not subscribed")
            bound.info("push falls back to SMS after 43101")
        if plan.phone is None:
            await self._finish(idempotency_key, PushDeliveryStatus.failed, "no phone number")
            raise PermanentDeliveryError("the account has no phone number any more")
        await self._send_sms(plan.phone, notification, idempotency_key)

    async def _plan(self, account_id: uuid.UUID, kind: str, key: str) -> _Plan | None:
        """Step 1: the channel, with the grant taken; None if the message was dealt with."""
        template, sms = self._wechat_templates.get(kind), self._sms_templates.get(kind)
        now = utcnow()
        async with unit_of_work(self._sessionmaker) as session:
            found = await notify_repository.addresses(session, account_id)
            if found is None:
                raise PermanentDeliveryError("no such account")
            openid, phone = found
            phone = phone if sms is not None else None
            existing = await notify_repository.delivery(session, key)
            if existing is not None:
                if existing.status == PushDeliveryStatus.sending:
                    # The last attempt died between handing the SMS over and recording it.
                    existing.status = PushDeliveryStatus.unknown
                    existing.updated_at = now
                    log.warning("sms outcome unknown: not sent again", idempotency_key=key)
                if existing.status != PushDeliveryStatus.reserved:
                    return None
                return _Plan(PushChannel(existing.channel), openid, phone)
            channel, held = PushChannel.none, None
            if (
                template is not None
                and openid is not None
                and await notify_repository.take_grant(
                    session, account_id, template.template_id, now
                )
            ):
                channel, held = PushChannel.wechat, template.template_id
            elif phone is not None:
                channel = PushChannel.sms
            await notify_repository.add_delivery(
                session,
                PushDelivery(
                    idempotency_key=key,
                    account_id=account_id,
                    kind=kind,
                    channel=channel,
                    status=(
                        PushDeliveryStatus.skipped
                        if channel == PushChannel.none
                        else PushDeliveryStatus.reserved
                    ),
                    template_id=held,
                    updated_at=now,
                ),
            )
        return _Plan(channel, openid, phone)

    async def _send_wechat(
        self,
        account_id: uuid.UUID,
        openid: str,
        notification: PushNotification,
        key: str,
        fallback: bool,
    ) -> bool:
        """Steps 2 and 3 through WeChat: True if sent, False on 43101 (no grant is left; with
        a `fallback` the delivery stays reserved, now for an SMS)."""
        template = self._wechat_templates.get(notification.template)
        if template is None:
            await self._finish(key, PushDeliveryStatus.failed, "template no longer configured")
            raise PermanentDeliveryError("no WeChat template for this kind any more")
        try:
            data = fitted_data(template.fields, notification.data)
            await self._wechat.send(openid, template.template_id, data, notification.page)
        except UnfittableValue as exc:
            await self._finish(key, PushDeliveryStatus.failed, str(exc), give_back=template)
            raise PermanentDeliveryError(str(exc)) from exc
        except WeChatMessageError as exc:
            if exc.errcode == NOT_SUBSCRIBED:
                # Our count was wrong (the person turned messages off): no grant is left.
                await self._finish(
                    key,
                    PushDeliveryStatus.reserved if fallback else PushDeliveryStatus.refused,
                    str(exc),
                    channel=PushChannel.sms if fallback else None,
                    clear=(account_id, template),
                )
                return False
            if exc.retryable:
                raise RetryableDeliveryError(str(exc)) from exc
            # Quota reached, template or data refused: WeChat delivered nothing, so the
            # grant is still the person's.
            await self._finish(key, PushDeliveryStatus.failed, str(exc), give_back=template)
            raise PermanentDeliveryError(str(exc)) from exc
        await self._finish(key, PushDeliveryStatus.sent)
        return True

    async def _send_sms(self, phone: str, notification: PushNotification, key: str) -> None:
        """Steps 2 and 3 through SMS, at most once (see the module's docstring)."""
        template = self._sms_templates[notification.template]
        params = [str(notification.data.get(name, "")) for name in template.params]
        if not await self._begin_sms(key):
            log.info("sms already handed over by another attempt", idempotency_key=key)
            return
        try:
            await self._sms.send(phone, template.template_id, params, key)
        except SmsError as exc:
            # Tencent answered with a refusal: nothing went out.
            if exc.retryable:
                await self._finish(key, PushDeliveryStatus.reserved, str(exc))
                raise RetryableDeliveryError(str(exc)) from exc
            await self._finish(key, PushDeliveryStatus.failed, str(exc))
            raise PermanentDeliveryError(str(exc)) from exc
        except httpx.ConnectError as exc:
            # No connection was made: nothing went out.
            await self._finish(key, PushDeliveryStatus.reserved, type(exc).__name__)
            raise RetryableDeliveryError("SMS API unreachable") from exc
        except httpx.HTTPError as exc:
            await self._finish(key, PushDeliveryStatus.unknown, type(exc).__name__)
            raise PermanentDeliveryError(
                "SMS call broke off after it was sent: outcome unknown, not sent again"
            ) from exc
        await self._finish(key, PushDeliveryStatus.sent)

    async def _begin_sms(self, key: str) -> bool:
        """Commit the delivery as `sending` before the SMS is handed over; False if it is no
        longer waiting to be sent (another attempt has it)."""
        async with unit_of_work(self._sessionmaker) as session:
            delivery = await notify_repository.delivery(session, key)
            if delivery is None or delivery.status != PushDeliveryStatus.reserved:
                return False
            delivery.status = PushDeliveryStatus.sending
            delivery.channel = PushChannel.sms
            delivery.updated_at = utcnow()
        return True

    async def _finish(
        self,
        key: str,
        status: PushDeliveryStatus,
        error: str | None = None,
        *,
        channel: PushChannel | None = None,
        give_back: WeChatTemplate | None = None,
        clear: tuple[uuid.UUID, WeChatTemplate] | None = None,
    ) -> None:
        """Step 3: record the outcome (and give back or clear the grant) in one transaction."""
        now = utcnow()
        async with unit_of_work(self._sessionmaker) as session:
            delivery = await notify_repository.delivery(session, key)
            if delivery is None:
                return
            if give_back is not None:
                await notify_repository.return_grant(
                    session, delivery.account_id, give_back.template_id, now
                )
            if clear is not None:
                await notify_repository.clear_grants(session, clear[0], clear[1].template_id, now)
            delivery.status = status
            delivery.channel = channel or delivery.channel
            delivery.error = error[:_ERROR_CHARS] if error else delivery.error
            delivery.updated_at = now


def wechat_push_provider(
    settings: Settings,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> NotificationProvider:
    """The provider of PUSH_PROVIDER=wechat: its token shared through Redis when configured.
    ValueError (at startup) when a configured template names a field type WeChat has not."""
    for template in settings.wechat_templates.values():
        for key in template.fields:
            field_type(key)
    margin = settings.wechat_token_refresh_margin_seconds
    redis_url = settings.redis_url

    def tokens(fetch: FetchToken) -> AccessTokenCache:
        if redis_url is None:
            return InProcessTokenCache(fetch, margin)
        redis = Redis.from_url(
            redis_url,
            decode_responses=True,
            socket_connect_timeout=settings.redis_connect_timeout_seconds,
            socket_timeout=2.0,
        )
        return RedisTokenCache(redis, f"wechat:access_token:{settings.wechat_appid}", fetch, margin)

    wechat = SubscribeMessageClient(
        http,
        settings.wechat_api_base,
        settings.wechat_appid,
        settings.wechat_secret,
        tokens,
        settings.wechat_miniprogram_state,
        settings.wechat_message_lang,
    )
    return NotificationProvider(
        sessionmaker,
        wechat,
        tencent_sms_client(settings, http),
        settings.wechat_templates,
        settings.sms_templates,
    )
