"""Payment provider adapters and the gateway that holds the configured ones."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request

from app.config import Settings
from app.payment.providers import dev_merchant
from app.payment.providers.alipay import AlipayClient, AlipayConfig
from app.payment.providers.errors import NotificationRejected, ProviderError
from app.payment.providers.keys import load_private_key, load_public_key
from app.payment.providers.wechat import WeChatPayClient, WeChatPayConfig


@dataclass(frozen=True)
class PaymentGateway:
    """The configured providers (None when a provider is not set up in this environment)."""

    wechat: WeChatPayClient | None
    alipay: AlipayClient | None


def wechat_config(settings: Settings) -> WeChatPayConfig | None:
    """WeChat Pay settings, or None when the merchant is not configured (in development without
    one: the development merchant and the fake WeChat Pay this service serves)."""
    if dev_merchant.in_use(settings):
        settings = dev_merchant.with_dev_merchant(settings)
    if not (
        settings.wechatpay_mchid
        and settings.wechatpay_merchant_serial
        and settings.wechatpay_merchant_private_key
    ):
        return None
    return WeChatPayConfig(
        appid=settings.wechat_appid,
        mchid=settings.wechatpay_mchid,
        apiv3_key=settings.wechatpay_apiv3_key.encode(),
        merchant_serial=settings.wechatpay_merchant_serial,
        merchant_private_key=load_private_key(settings.wechatpay_merchant_private_key),
        platform_keys={
            serial: load_public_key(pem)
            for serial, pem in settings.wechatpay_platform_public_keys.items()
        },
        api_base=settings.wechatpay_api_base,
        notify_url=f"{settings.payment_notify_base_url}/api/v1/payments/notify/wechat",
        max_skew_seconds=settings.wechatpay_notification_max_skew_seconds,
    )


def alipay_config(settings: Settings) -> AlipayConfig | None:
    """Alipay settings, or None when the app is not configured."""
    if not (
        settings.alipay_app_id and settings.alipay_app_private_key and settings.alipay_public_key
    ):
        return None
    return AlipayConfig(
        app_id=settings.alipay_app_id,
        app_private_key=load_private_key(settings.alipay_app_private_key),
        alipay_public_key=load_public_key(settings.alipay_public_key),
        gateway_url=settings.alipay_gateway_url,
        notify_url=f"{settings.payment_notify_base_url}/api/v1/payments/notify/alipay",
    )


def gateway_from_settings(settings: Settings, http: httpx.AsyncClient) -> PaymentGateway:
    """The gateway for these settings over `http`."""
    wechat = wechat_config(settings)
    alipay = alipay_config(settings)
    return PaymentGateway(
        wechat=WeChatPayClient(wechat, http) if wechat else None,
        alipay=AlipayClient(alipay, http) if alipay else None,
    )


__all__ = ["NotificationRejected", "PaymentGateway", "ProviderError", "get_gateway"]

_STATE_KEY = "payment_gateway"


def get_gateway(request: Request) -> PaymentGateway:
    """The app's payment gateway (built once from its settings and HTTP client)."""
    gateway: PaymentGateway | None = getattr(request.app.state, _STATE_KEY, None)
    if gateway is None:
        gateway = gateway_from_settings(request.app.state.settings, request.app.state.http)
        setattr(request.app.state, _STATE_KEY, gateway)
    return gateway
