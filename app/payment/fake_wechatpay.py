"""A local stand-in for the WeChat Pay platform, for development and tests (never in prod).

It plays WeChat's side of API v3: JSAPI orders and refunds (our signed requests are checked with
the merchant's public key and the answers signed with the platform key), `wx.requestPayment`
(the patient confirming the payment in WeChat) and the notifications WeChat posts to an order's
notify_url, signed and AES-256-GCM encrypted exactly like WeChat's, so our notify endpoint runs
its real verification on them.

In development the service serves it under /_dev/wechatpay with the development merchant of
`app.payment.providers.dev_merchant`: `POST /_dev/wechatpay/request-payment` takes the
`client_params` the app received for `wx.requestPayment`, and the fake then posts the payment's
TRANSACTION.SUCCESS notification before answering (a refund's REFUND.SUCCESS, or REFUND.ABNORMAL
when `refund_outcome` says so, right after answering the refund request; refunds can be queried
by their number). Every answer and notification carries the headers WeChat Pay sends
(Wechatpay-Timestamp, -Nonce, -Serial, -Signature and -Signature-Type), so the wechatpayv3 SDK
accepts them. State lives in the process, like the fake WeChat login's.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.kit.clock import to_shanghai, utcnow
from app.payment.providers import dev_merchant
from app.payment.providers.keys import load_private_key, sign_sha256, verify_sha256
from app.payment.providers.wechat import AUTH_SCHEMA, JSAPI_PATH, REFUND_PATH, signed_message

log = structlog.get_logger(__name__)

SUMMARIES = {
    "TRANSACTION.SUCCESS": "支付成功",
    "REFUND.SUCCESS": "退款成功",
    "REFUND.ABNORMAL": "退款异常",
    "REFUND.CLOSED": "退款关闭",
}

# Posts a notification (url, headers, body) and returns the HTTP status our service answered.
Notifier = Callable[[str, dict[str, str], bytes], Awaitable[int]]


@dataclass
class _Refund:
    out_trade_no: str
    out_refund_no: str
    refund_id: str
    refund: int
    total: int
    status: str


@dataclass
class _Order:
    out_trade_no: str
    amount_fen: int
    notify_url: str
    openid: str
    transaction_id: str | None = None


class FakeWeChatPay:
    """Plays the WeChat Pay platform: JSAPI orders, wx.requestPayment, refunds, notifications."""

    def __init__(
        self,
        *,
        appid: str,
        mchid: str,
        apiv3_key: bytes,
        platform_serial: str,
        platform_key: rsa.RSAPrivateKey,
        merchant_public_key: rsa.RSAPublicKey,
        notifier: Notifier | None = None,
    ) -> None:
        self.appid = appid
        self.mchid = mchid
        self.apiv3_key = apiv3_key
        self.serial = platform_serial
        self.platform_key = platform_key
        self.merchant_public_key = merchant_public_key
        self.notifier = notifier
        self.received: list[tuple[str, dict[str, Any]]] = []
        # What refunds come to: SUCCESS, or ABNORMAL / CLOSED to play a failed refund.
        self.refund_outcome = "SUCCESS"
        self._orders: dict[str, _Order] = {}  # by prepay_id
        self._refunds: dict[str, _Refund] = {}  # by out_refund_no
        self.app = Starlette(
            routes=[
                Route(JSAPI_PATH, self._jsapi, methods=["POST"]),
                Route(REFUND_PATH, self._refund, methods=["POST"]),
                Route(REFUND_PATH + "/{out_refund_no}", self._query_refund, methods=["GET"]),
                Route("/request-payment", self._request_payment, methods=["POST"]),
            ]
        )

    def signature_headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        """The Wechatpay-* headers WeChat Pay puts on an answer or a notification."""
        stamp = str(timestamp or int(utcnow().timestamp()))
        nonce = secrets.token_hex(16)
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": self.serial,
            "Wechatpay-Signature": sign_sha256(
                self.platform_key, signed_message(stamp, nonce, body)
            ),
            "Wechatpay-Signature-Type": AUTH_SCHEMA,
        }

    def _signed(self, payload: dict[str, Any], status: int = 200) -> Response:
        body = json.dumps(payload)
        return Response(
            body,
            status_code=status,
            media_type="application/json",
            headers=self.signature_headers(body),
        )

    async def _verified(self, request: Request) -> dict[str, Any] | None:
        """The merchant request's JSON if its Authorization signature verifies."""
        body = (await request.body()).decode()
        header = request.headers.get("Authorization", "")
        if not header.startswith(f"{AUTH_SCHEMA} "):
            return None
        parts = [part.partition("=") for part in header.removeprefix(AUTH_SCHEMA).split(",")]
        fields = {name.strip(): value.strip('"') for name, _, value in parts}
        # The merchant signs the API path and query; mounted under /_dev/wechatpay, strip the
        # mount.
        path = request.url.path.removeprefix(request.scope.get("root_path", ""))
        if request.url.query:
            path = f"{path}?{request.url.query}"
        message = signed_message(
            request.method, path, fields.get("timestamp", ""), fields.get("nonce_str", ""), body
        )
        if not verify_sha256(self.merchant_public_key, message, fields.get("signature", "")):
            return None
        if request.method == "GET":
            return {}
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    async def _jsapi(self, request: Request) -> Response:
        payload = await self._verified(request)
        if payload is None:
            return self._signed({"code": "SIGN_ERROR", "message": "bad signature"}, status=401)
        self.received.append(("jsapi", payload))
        try:
            order = _Order(
                out_trade_no=str(payload["out_trade_no"]),
                amount_fen=int(payload["amount"]["total"]),
                notify_url=str(payload["notify_url"]),
                openid=str(payload["payer"]["openid"]),
            )
        except (KeyError, TypeError, ValueError):
            return self._signed({"code": "PARAM_ERROR", "message": "bad order"}, status=400)
        prepay_id = f"wx{uuid.uuid4().hex}"
        self._orders[prepay_id] = order
        return self._signed({"prepay_id": prepay_id})

    async def _refund(self, request: Request) -> Response:
        payload = await self._verified(request)
        if payload is None:
            return self._signed({"code": "SIGN_ERROR", "message": "bad signature"}, status=401)
        self.received.append(("refund", payload))
        try:
            out_refund_no = str(payload["out_refund_no"])
            refund = self._refunds.get(out_refund_no) or _Refund(
                out_trade_no=str(payload["out_trade_no"]),
                out_refund_no=out_refund_no,
                refund_id=f"50{uuid.uuid4().hex[:20]}",
                refund=int(payload["amount"]["refund"]),
                total=int(payload["amount"]["total"]),
                status="PROCESSING",
            )
            notify_url = str(payload["notify_url"])
        except (KeyError, TypeError, ValueError):
            return self._signed({"code": "PARAM_ERROR", "message": "bad refund"}, status=400)
        first = out_refund_no not in self._refunds
        self._refunds[out_refund_no] = refund
        response = self._signed(self._refund_object(refund))
        if first:
            # Decided after the answer, as WeChat does (the merchant is still inside its call).
            refund.status = self.refund_outcome
            headers, body = self.refunded(
                refund.out_trade_no,
                refund.out_refund_no,
                refund.refund,
                refund.total,
                status=refund.status,
                refund_id=refund.refund_id,
            )
            response.background = BackgroundTask(self._deliver, notify_url, headers, body)
        return response

    async def _query_refund(self, request: Request) -> Response:
        if await self._verified(request) is None:
            return self._signed({"code": "SIGN_ERROR", "message": "bad signature"}, status=401)
        refund = self._refunds.get(request.path_params["out_refund_no"])
        if refund is None:
            return self._signed(
                {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}, status=404
            )
        return self._signed(self._refund_object(refund))

    def _refund_object(self, refund: _Refund) -> dict[str, Any]:
        return {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "status": refund.status,
            "create_time": to_shanghai(utcnow()).isoformat(timespec="seconds"),
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
                "currency": "CNY",
            },
        }

    async def _request_payment(self, request: Request) -> Response:
        """wx.requestPayment: the patient pays the order the client parameters name."""
        try:
            params = await request.json()
        except ValueError:
            params = None
        fields = ("appId", "timeStamp", "nonceStr", "package", "paySign")
        if not isinstance(params, dict) or not all(isinstance(params.get(f), str) for f in fields):
            return JSONResponse({"errMsg": "requestPayment:fail invalid parameters"}, 400)
        signed = signed_message(
            params["appId"], params["timeStamp"], params["nonceStr"], params["package"]
        )
        if params["appId"] != self.appid or not verify_sha256(
            self.merchant_public_key, signed, params["paySign"]
        ):
            return JSONResponse({"errMsg": "requestPayment:fail invalid paySign"}, 400)
        order = self._orders.get(params["package"].removeprefix("prepay_id="))
        if order is None:
            return JSONResponse({"errMsg": "requestPayment:fail unknown prepay_id"}, 404)
        if order.transaction_id is not None:
            return JSONResponse({"errMsg": "requestPayment:fail order paid"}, 409)
        order.transaction_id = f"42000{secrets.randbelow(10**23):023d}"
        headers, body = self.paid(
            order.out_trade_no, order.amount_fen, order.transaction_id, openid=order.openid
        )
        notified = await self._deliver(order.notify_url, headers, body)
        return JSONResponse(
            {
                "errMsg": "requestPayment:ok",
                "transaction_id": order.transaction_id,
                "notification_status": notified,
            }
        )

    async def _deliver(self, url: str, headers: dict[str, str], body: bytes) -> int | None:
        """Post a notification; our service's HTTP status, or None when it was not sent."""
        if self.notifier is None:
            return None
        try:
            return await self.notifier(url, headers, body)
        except httpx.HTTPError as exc:
            log.warning("fake wechat pay could not deliver a notification", url=url, error=str(exc))
            return None

    def notify(
        self, event_type: str, resource: dict[str, Any], *, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """A signed notification with an AES-256-GCM encrypted resource."""
        # WeChat's nonce is 12 characters (the GCM IV); the resource names its original type.
        nonce = secrets.token_hex(6)
        associated = "refund" if event_type.startswith("REFUND.") else "transaction"
        ciphertext = AESGCM(self.apiv3_key).encrypt(
            nonce.encode(), json.dumps(resource).encode(), associated.encode()
        )
        body = json.dumps(
            {
                "id": str(uuid.uuid4()),
                "create_time": to_shanghai(utcnow()).isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": SUMMARIES.get(event_type, event_type),
                "resource": {
                    "original_type": associated,
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        )
        headers = {
            **self.signature_headers(body, timestamp=timestamp),
            "Content-Type": "application/json",
        }
        return headers, body.encode()

    def paid(
        self,
        out_trade_no: str,
        total: int,
        transaction_id: str,
        state: str = "SUCCESS",
        *,
        openid: str = "o-test",
        timestamp: int | None = None,
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
                "success_time": to_shanghai(utcnow()).isoformat(timespec="seconds"),
                "amount": {"total": total, "payer_total": total, "currency": "CNY"},
                "payer": {"openid": openid},
            },
            timestamp=timestamp,
        )

    def refunded(
        self,
        out_trade_no: str,
        out_refund_no: str,
        refund: int,
        total: int,
        *,
        status: str = "SUCCESS",
        refund_id: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """A REFUND.SUCCESS (or REFUND.ABNORMAL / REFUND.CLOSED) notification."""
        resource: dict[str, Any] = {
            "mchid": self.mchid,
            "out_trade_no": out_trade_no,
            "transaction_id": f"42000{secrets.randbelow(10**23):023d}",
            "out_refund_no": out_refund_no,
            "refund_id": refund_id or f"50{uuid.uuid4().hex[:20]}",
            "refund_status": status,
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": total,
                "refund": refund,
                "payer_total": total,
                "payer_refund": refund,
            },
        }
        if status == "SUCCESS":
            resource["success_time"] = to_shanghai(utcnow()).isoformat(timespec="seconds")
        return self.notify(f"REFUND.{status}", resource)


def http_notifier(timeout: float) -> Notifier:
    """Deliver notifications over HTTP, as WeChat does (one short-lived client per post)."""

    async def post(url: str, headers: dict[str, str], body: bytes) -> int:
        async with httpx.AsyncClient(timeout=timeout) as http:
            return (await http.post(url, content=body, headers=headers)).status_code

    return post


def dev_merchant_fake(settings: Settings, notifier: Notifier | None = None) -> FakeWeChatPay:
    """The fake WeChat Pay of the development merchant, posting its notifications over HTTP
    unless given another `notifier`."""
    return FakeWeChatPay(
        appid=settings.wechat_appid,
        mchid=dev_merchant.MCHID,
        apiv3_key=settings.wechatpay_apiv3_key.encode(),
        platform_serial=dev_merchant.PLATFORM_SERIAL,
        platform_key=load_private_key(dev_merchant.PLATFORM_PRIVATE_KEY),
        merchant_public_key=load_private_key(dev_merchant.MERCHANT_PRIVATE_KEY).public_key(),
        notifier=notifier or http_notifier(settings.outbox_http_timeout_seconds),
    )


def create_fake_wechatpay_app(settings: Settings) -> Starlette:
    """The development merchant's fake WeChat Pay as an app (mounted under /_dev/wechatpay)."""
    return dev_merchant_fake(settings).app
