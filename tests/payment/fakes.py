"""Local fake WeChat Pay and Alipay: they check our signed requests and sign what they send,
each with RSA key pairs generated in the test (and a random APIv3 key)."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.payment.providers import PaymentGateway
from app.payment.providers.alipay import AlipayClient, AlipayConfig, signing_content
from app.payment.providers.keys import sign_sha256, verify_sha256
from app.payment.providers.wechat import WeChatPayClient, WeChatPayConfig, signed_message


@functools.cache
def new_key(role: str) -> rsa.RSAPrivateKey:
    """An RSA key pair per role, generated once per run (2048-bit generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeWeChatPay:
    """Plays the WeChat Pay platform: JSAPI orders, refunds, signed notifications."""

    serial = "5157F09EFDC096DE15EBE81A47057A72"

    def __init__(self) -> None:
        self.platform_key = new_key("wechat-platform")
        self.merchant_key = new_key("wechat-merchant")
        self.apiv3_key = secrets.token_hex(16).encode()
        self.mchid = "1900000109"
        self.appid = "wx-demo-appid"
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.app = Starlette(
            routes=[
                Route("/v3/pay/transactions/jsapi", self._jsapi, methods=["POST"]),
                Route("/v3/refund/domestic/refunds", self._refund, methods=["POST"]),
            ]
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

    def _signed(self, payload: dict[str, Any], status: int = 200) -> Response:
        body = json.dumps(payload)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers={
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": self.serial,
                "Wechatpay-Signature": sign_sha256(
                    self.platform_key, signed_message(timestamp, nonce, body)
                ),
            },
        )

    async def _verified(self, request: Request) -> dict[str, Any] | None:
        body = (await request.body()).decode()
        header = request.headers.get("Authorization", "")
        fields = dict(
            part.split("=", 1)
            for part in header.removeprefix("WECHATPAY2-SHA256-RSA2048 ").split(",")
        )
        fields = {k: v.strip('"') for k, v in fields.items()}
        message = signed_message(
            request.method,
            request.url.path,
            fields.get("timestamp", ""),
            fields.get("nonce_str", ""),
            body,
        )
        if not verify_sha256(self.merchant_key.public_key(), message, fields.get("signature", "")):
            return None
        payload: dict[str, Any] = json.loads(body)
        return payload

    async def _jsapi(self, request: Request) -> Response:
        payload = await self._verified(request)
        if payload is None:
            return JSONResponse({"code": "SIGN_ERROR"}, status_code=401)
        self.received.append(("jsapi", payload))
        return self._signed({"prepay_id": f"wx{uuid.uuid4().hex}"})

    async def _refund(self, request: Request) -> Response:
        payload = await self._verified(request)
        if payload is None:
            return JSONResponse({"code": "SIGN_ERROR"}, status_code=401)
        self.received.append(("refund", payload))
        return self._signed({"refund_id": f"50{uuid.uuid4().hex[:20]}", "status": "PROCESSING"})

    def client(self) -> WeChatPayClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        return WeChatPayClient(self.config(), http)

    def notify(
        self, event_type: str, resource: dict[str, Any], *, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed notification with an AES-256-GCM encrypted resource."""
        nonce = secrets.token_hex(6)
        associated = "transaction"
        ciphertext = AESGCM(self.apiv3_key).encrypt(
            nonce.encode(), json.dumps(resource).encode(), associated.encode()
        )
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": "2026-03-10T10:00:00+08:00",
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": "支付成功",
                "resource": {
                    "original_type": associated,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            }
        )
        stamp, header_nonce = str(timestamp or int(time.time())), secrets.token_hex(8)
        headers = {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature": sign_sha256(
                self.platform_key, signed_message(stamp, header_nonce, body)
            ),
            "Content-Type": "application/json",
        }
        return headers, body.encode()

    def paid(
        self, out_trade_no: str, total: int, transaction_id: str, state: str = "SUCCESS", **kw: Any
    ) -> tuple[dict[str, str], bytes]:
        """A TRANSACTION.* notification for an order."""
        return self.notify(
            "TRANSACTION.SUCCESS" if state == "SUCCESS" else "TRANSACTION.CLOSED",
            {
                "appid": self.appid,
                "mchid": self.mchid,
                "out_trade_no": out_trade_no,
                "transaction_id": transaction_id,
                "trade_type": "JSAPI",
                "trade_state": state,
                "success_time": "2026-03-10T10:00:00+08:00",
                "amount": {"total": total, "payer_total": total, "currency": "CNY"},
                "payer": {"openid": "o-test"},
            },
            **kw,
        )

    def refunded(
        self, out_trade_no: str, out_refund_no: str, refund: int, total: int
    ) -> tuple[dict[str, str], bytes]:
        """A REFUND.SUCCESS notification."""
        return self.notify(
            "REFUND.SUCCESS",
            {
                "mchid": self.mchid,
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "refund_id": f"50{uuid.uuid4().hex[:20]}",
                "refund_status": "SUCCESS",
                "amount": {
                    "total": total,
                    "refund": refund,
                    "payer_total": total,
                    "payer_refund": refund,
                },
            },
        )


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
