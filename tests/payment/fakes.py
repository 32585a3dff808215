"""Local fake WeChat Pay (the app's dev fake) and Alipay: they check our signed requests and sign
what they send, each with RSA key pairs generated in the test (and a random APIv3 key)."""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.payment import fake_wechatpay
from app.payment.providers import PaymentGateway
from app.payment.providers.alipay import AlipayClient, AlipayConfig, signing_content
from app.payment.providers.keys import sign_sha256, verify_sha256
from app.payment.providers.wechat import WeChatPayClient, WeChatPayConfig


@functools.cache
def new_key(role: str) -> rsa.RSAPrivateKey:
    """An RSA key pair per role, generated once per run (2048-bit generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakeWeChatPay(fake_wechatpay.FakeWeChatPay):
    """The app's fake WeChat Pay with keys made for the test run; the test posts notifications."""

    def __init__(self) -> None:
        self.merchant_key = new_key("wechat-merchant")
        super().__init__(
            appid="wx-demo-appid",
            mchid="1900000109",
            apiv3_key=secrets.token_hex(16).encode(),
            platform_serial="5157F09EFDC096DE15EBE81A47057A72",
            platform_key=new_key("wechat-platform"),
            merchant_public_key=self.merchant_key.public_key(),
        )

    def config(self) -> WeChatPayConfig:
        return WeChatPayConfig(
            appid=self.appid,
            mchid=self.mchid,
            apiv3_key=self.apiv3_key,
            merchant_serial="MERCHANT-SERIAL-1",
            merchant_private_key=self.merchant_key,
            platform_keys={self.serial: self.platform_key.public_key()},
            api_base="http://wechatpay.test",
            notify_url="http://testserver/api/v1/payments/notify/wechat",
        )

    def client(self) -> WeChatPayClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        return WeChatPayClient(self.config(), http)


class FakeAlipay:
    """Plays the Alipay open platform: precreate, refund, signed notifications."""

    def __init__(self) -> None:
        self.alipay_key = new_key("alipay")
        self.app_key = new_key("alipay-app")
        self.app_id = "2021000000000001"
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.app = Starlette(routes=[Route("/gateway.do", self._gateway, methods=["POST"])])

    def config(self) -> AlipayConfig:
        return AlipayConfig(
            app_id=self.app_id,
            app_private_key=self.app_key,
            alipay_public_key=self.alipay_key.public_key(),
            gateway_url="http://alipay.test/gateway.do",
            notify_url="http://testserver/api/v1/payments/notify/alipay",
        )

    def client(self) -> AlipayClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        return AlipayClient(self.config(), http)

    async def _gateway(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode()))
        node_name = params.get("method", "").replace(".", "_") + "_response"
        if not verify_sha256(
            self.app_key.public_key(), signing_content(params).encode(), params.get("sign", "")
        ):
            node: dict[str, Any] = {"code": "40002", "sub_code": "isv.invalid-signature"}
        else:
            biz = json.loads(params["biz_content"])
            self.received.append((params["method"], biz))
            node = {"code": "10000", "msg": "Success", "out_trade_no": biz["out_trade_no"]}
            if params["method"] == "alipay.trade.precreate":
                node["qr_code"] = f"https://qr.alipay.com/{uuid.uuid4().hex[:16]}"
        node_text = json.dumps(node, ensure_ascii=False)
        sign = sign_sha256(self.alipay_key, node_text.encode())
        return Response(
            f'{{"{node_name}":{node_text},"sign":"{sign}"}}', media_type="application/json"
        )

    def notification(self, **fields: str) -> dict[str, str]:
        """Signed notification parameters (what Alipay posts as a form)."""
        params = {
            "notify_time": "2026-03-10 10:00:00",
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            **fields,
        }
        params["sign"] = sign_sha256(self.alipay_key, signing_content(params).encode())
        return params


def gateway(wechat: FakeWeChatPay, alipay: FakeAlipay) -> PaymentGateway:
    """A gateway whose adapters talk to the fakes."""
    return PaymentGateway(wechat=wechat.client(), alipay=alipay.client())
