"""Local fake WeChat Pay (the app's dev fake, itself checked with the wechatpayv3 SDK in
test_sdk_wechatpay.py) and Alipay (python-alipay-sdk inside): they check our signed requests and
sign what they send, each with RSA key pairs generated in the test (and a random APIv3 key)."""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.payment import fake_wechatpay
from app.payment.providers import PaymentGateway
from app.payment.providers.alipay import AlipayClient, AlipayConfig
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


def _pem(key: rsa.RSAPrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class FakeAlipay:
    """Plays the Alipay open platform (precreate, refund, refund query, signed notifications)
    with python-alipay-sdk, an implementation independent of ours: requests are checked and
    answers and notifications signed the SDK's way, never with app.payment code."""

    def __init__(self) -> None:
        self.alipay_key = new_key("alipay")
        self.app_key = new_key("alipay-app")
        self.app_id = "2021000000000001"
        alipay_private, alipay_public = _pem(self.alipay_key)
        app_private, app_public = _pem(self.app_key)
        # The merchant's SDK (what a merchant using python-alipay-sdk runs): it signs requests
        # with the app key and verifies answers and notifications with Alipay's public key.
        self.merchant_sdk = AliPay(
            appid=self.app_id,
            app_private_key_string=app_private,
            alipay_public_key_string=alipay_public,
            sign_type="RSA2",
        )
        # Alipay's side of the same keys: it signs with Alipay's key, verifies with the app's.
        self._platform_sdk = AliPay(
            appid=self.app_id,
            app_private_key_string=alipay_private,
            alipay_public_key_string=app_public,
            sign_type="RSA2",
        )
        # alipay.trade.refund answers fund_change=Y (refunded at once) unless told otherwise.
        self.fund_change = "Y"
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.refused: list[dict[str, str]] = []
        self._refunds: dict[str, dict[str, str]] = {}  # by out_request_no
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

    def request_verifies(self, params: dict[str, str]) -> bool:
        """Whether a request's `sign` verifies as the SDK signs requests: over every parameter
        but `sign` (sign_type included), sorted (`AliPay.sign_data`)."""
        unsigned = {k: v for k, v in params.items() if k != "sign"}
        content = "&".join(f"{k}={v}" for k, v in self._platform_sdk._ordered_data(unsigned))
        return self._platform_sdk._verify(content, params.get("sign", ""))

    def _answer(self, node_name: str, node: dict[str, Any]) -> Response:
        node_text = json.dumps(node, ensure_ascii=False)
        sign = self._platform_sdk._sign(node_text)
        body = f'{{"{node_name}":{node_text},"sign":"{sign}"}}'
        # What Alipay answers must be what the merchant's SDK accepts.
        self.merchant_sdk._verify_and_return_sync_response(body, node_name)
        return Response(body, media_type="application/json")

    async def _gateway(self, request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        method = params.get("method", "")
        node_name = method.replace(".", "_") + "_response"
        if not self.request_verifies(params):
            self.refused.append(params)
            return self._answer(
                node_name,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        biz = json.loads(params["biz_content"])
        self.received.append((method, biz))
        node: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": biz["out_trade_no"],
        }
        if method == "alipay.trade.precreate":
            node["qr_code"] = f"https://qr.alipay.com/{uuid.uuid4().hex[:16]}"
        elif method == "alipay.trade.refund":
            refund = self._refunds.setdefault(
                biz["out_request_no"],
                {"refund_amount": biz["refund_amount"], "done": self.fund_change},
            )
            node.update(
                trade_no="2026031022001400000001",
                fund_change=refund["done"],
                refund_fee=biz["refund_amount"],
            )
        elif method == "alipay.trade.fastpay.refund.query":
            refund = self._refunds.get(biz["out_request_no"])
            if refund is not None:
                node.update(
                    trade_no="2026031022001400000001",
                    out_request_no=biz["out_request_no"],
                    refund_amount=refund["refund_amount"],
                    refund_status="REFUND_SUCCESS" if refund["done"] == "Y" else "",
                )
                if refund["done"] != "Y":  # accepted, not yet paid back: no data yet
                    del node["refund_amount"]
        return self._answer(node_name, node)

    def notification(self, **fields: str) -> dict[str, str]:
        """Signed notification parameters (what Alipay posts as a form): signed over every
        parameter but sign and sign_type, and checked with the merchant SDK's `verify`."""
        params = {
            "notify_time": "2026-03-10 10:00:00",
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": self.app_id,
            "charset": "utf-8",
            "version": "1.0",
            **fields,
        }
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["sign_type"] = "RSA2"
        params["sign"] = self._platform_sdk._sign(content)
        unsigned = {k: v for k, v in params.items() if k != "sign"}
        assert self.merchant_sdk.verify(unsigned, params["sign"])
        return params

    def refund_notification(
        self, out_trade_no: str, out_request_no: str, refund_fen: int, total_fen: int
    ) -> dict[str, str]:
        """The trade_status_sync Alipay posts to the payment's notify_url after a refund."""
        return self.notification(
            out_trade_no=out_trade_no,
            trade_no="2026031022001400000001",
            trade_status="TRADE_CLOSED" if refund_fen == total_fen else "TRADE_SUCCESS",
            total_amount=_yuan(total_fen),
            refund_fee=_yuan(refund_fen),
            out_biz_no=out_request_no,
            gmt_refund="2026-03-10 11:00:00.000",
        )


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def gateway(wechat: FakeWeChatPay, alipay: FakeAlipay) -> PaymentGateway:
    """A gateway whose adapters talk to the fakes."""
    return PaymentGateway(wechat=wechat.client(), alipay=alipay.client())
