"""WeChat Pay API v3: signed requests, verified responses and notifications, AES-256-GCM.

Notifications and responses are verified with SHA256withRSA over "timestamp\\nnonce\\nbody\\n"
using the platform public key named by the Wechatpay-Serial header (Wechatpay-Signature-Type
must name that algorithm, as the wechatpayv3 SDK requires), refused when the timestamp is too far
from now (replays), and a notification's `resource` is decrypted with AES-256-GCM under the
APIv3 key.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.payment.providers.errors import NotificationRejected, ProviderError
from app.payment.providers.keys import sign_sha256, verify_sha256
from app.payment.providers.outcomes import ProviderRefund, ProviderRefundStatus

AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
JSAPI_PATH = "/v3/pay/transactions/jsapi"
REFUND_PATH = "/v3/refund/domestic/refunds"
# The refund's `status` (answers and queries) or `refund_status` (notifications).
REFUND_STATUS = {
    "SUCCESS": ProviderRefundStatus.succeeded,
    "PROCESSING": ProviderRefundStatus.processing,
    "CLOSED": ProviderRefundStatus.failed,
    "ABNORMAL": ProviderRefundStatus.failed,
}


@dataclass(frozen=True)
class WeChatPayConfig:
    appid: str
    mchid: str
    apiv3_key: bytes
    merchant_serial: str
    merchant_private_key: rsa.RSAPrivateKey
    platform_keys: Mapping[str, rsa.RSAPublicKey]
    api_base: str
    notify_url: str
    max_skew_seconds: int = 300


@dataclass(frozen=True)
class WeChatNotification:
    id: str
    event_type: str
    resource: dict[str, Any] = field(default_factory=dict)


def signed_message(*parts: str) -> bytes:
    """The v3 signing string: every part followed by a newline."""
    return "".join(f"{part}\n" for part in parts).encode()


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise NotificationRejected(f"missing {name}")
    return value


def verify_signed(
    config: WeChatPayConfig, headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    """Check the Wechatpay-* signature headers over `body` (notifications and responses)."""
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce = _header(headers, "Wechatpay-Nonce")
    signature = _header(headers, "Wechatpay-Signature")
    serial = _header(headers, "Wechatpay-Serial")
    if _header(headers, "Wechatpay-Signature-Type") != AUTH_SCHEMA:
        raise NotificationRejected("unsupported Wechatpay-Signature-Type")
    key = config.platform_keys.get(serial)
    if key is None:
        raise NotificationRejected(f"unknown platform certificate serial {serial}")
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > config.max_skew_seconds:
        raise NotificationRejected("timestamp outside the accepted window")
    if not verify_sha256(key, signed_message(timestamp, nonce, body.decode()), signature):
        raise NotificationRejected("signature does not verify")


def decrypt_resource(apiv3_key: bytes, resource: Mapping[str, Any]) -> dict[str, Any]:
    """Decrypt an AEAD_AES_256_GCM `resource` with the APIv3 key."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise NotificationRejected("unsupported resource algorithm")
    try:
        plaintext = AESGCM(apiv3_key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(resource["ciphertext"]),
            str(resource.get("associated_data") or "").encode() or None,
        )
        decoded: dict[str, Any] = json.loads(plaintext)
    except (InvalidTag, KeyError, ValueError) as exc:
        raise NotificationRejected("resource does not decrypt") from exc
    return decoded


def parse_notification(
    config: WeChatPayConfig, headers: Mapping[str, str], body: bytes, now: datetime
) -> WeChatNotification:
    """Verify a notification and decrypt its resource."""
    verify_signed(config, headers, body, now)
    try:
        payload = json.loads(body)
        resource = payload["resource"]
        event = WeChatNotification(id=str(payload["id"]), event_type=str(payload["event_type"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise NotificationRejected("malformed notification") from exc
    return WeChatNotification(
        event.id, event.event_type, decrypt_resource(config.apiv3_key, resource)
    )


def authorization(
    config: WeChatPayConfig, method: str, path: str, body: str, timestamp: str, nonce: str
) -> str:
    """The Authorization header of a merchant request."""
    signature = sign_sha256(
        config.merchant_private_key, signed_message(method, path, timestamp, nonce, body)
    )
    return (
        f'{AUTH_SCHEMA} mchid="{config.mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{config.merchant_serial}"'
    )


class WeChatPayClient:
    """Merchant calls to WeChat Pay v3 (JSAPI orders and refunds), responses verified."""

    def __init__(self, config: WeChatPayConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self._http = http

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None, now: datetime
    ) -> httpx.Response:
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body else ""
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        try:
            response = await self._http.request(
                method,
                self.config.api_base + path,
                content=text.encode() if body else None,
                headers={
                    "Authorization": authorization(
                        self.config, method, path, text, timestamp, nonce
                    ),
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"WeChat Pay unreachable: {exc}", retryable=True) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderError(f"WeChat Pay HTTP {response.status_code}", retryable=True)
        try:
            verify_signed(self.config, response.headers, response.content, now)
        except NotificationRejected as exc:
            raise ProviderError(f"unverified WeChat Pay response: {exc}", retryable=True) from exc
        return response

    async def _post(self, path: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        response = await self._request("POST", path, body, now)
        if not response.is_success:
            raise ProviderError(f"WeChat Pay refused: {response.text[:300]}", retryable=False)
        result: dict[str, Any] = response.json()
        return result

    async def create_jsapi_order(
        self, out_trade_no: str, amount_fen: int, description: str, openid: str, now: datetime
    ) -> dict[str, str]:
        """Create a JSAPI order; returns the signed parameters for wx.requestPayment."""
        result = await self._post(
            JSAPI_PATH,
            {
                "appid": self.config.appid,
                "mchid": self.config.mchid,
                "description": description,
                "out_trade_no": out_trade_no,
                "notify_url": self.config.notify_url,
                "amount": {"total": amount_fen, "currency": "CNY"},
                "payer": {"openid": openid},
            },
            now,
        )
        package = f"prepay_id={result['prepay_id']}"
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        pay_sign = sign_sha256(
            self.config.merchant_private_key,
            signed_message(self.config.appid, timestamp, nonce, package),
        )
        return {
            "appId": self.config.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }

    async def refund(
        self,
        out_trade_no: str,
        out_refund_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
        now: datetime,
    ) -> ProviderRefund:
        """Ask for a refund (the outcome arrives as a REFUND.* notification or by a query)."""
        result = await self._post(
            REFUND_PATH,
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "reason": reason[:80],
                "notify_url": self.config.notify_url,
                "amount": {"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            },
            now,
        )
        return refund_outcome(result, "status")

    async def query_refund(self, out_refund_no: str, now: datetime) -> ProviderRefund:
        """Where a refund stands (GET /v3/refund/domestic/refunds/{out_refund_no})."""
        response = await self._request("GET", f"{REFUND_PATH}/{out_refund_no}", None, now)
        if response.status_code == 404:
            return ProviderRefund(ProviderRefundStatus.not_found)
        if not response.is_success:
            raise ProviderError(f"WeChat Pay refused: {response.text[:300]}", retryable=True)
        return refund_outcome(response.json(), "status")


def refund_outcome(resource: Mapping[str, Any], field: str) -> ProviderRefund:
    """A refund object's state (`status` in answers, `refund_status` in notifications)."""
    word = str(resource.get(field) or "")
    status = REFUND_STATUS.get(word)
    if status is None:
        raise ProviderError(f"unknown WeChat Pay refund status {word!r}", retryable=True)
    refund_id = resource.get("refund_id")
    return ProviderRefund(status, str(refund_id) if refund_id else None, word)
