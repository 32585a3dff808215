"""Alipay open platform: RSA2-signed requests, verified responses and notifications.

Both signatures are over the parameters sorted by name and joined as k=v with '&', but they
differ in what is left out (as in Ant's SDKs, `AlipaySignature.getSignContent` and
`getSignCheckContentV1`, and in python-alipay-sdk):
- a request is signed over every parameter except `sign` (so `sign_type` IS signed), empty
  values skipped;
- a notification is verified over every parameter except `sign` and `sign_type`.
Amounts travel as yuan strings; they are converted to fen exactly (Decimal), never via a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from app.kit.clock import to_shanghai
from app.kit.money import fen_to_yuan
from app.payment.providers.errors import NotificationRejected, ProviderError
from app.payment.providers.keys import sign_sha256, verify_sha256
from app.payment.providers.outcomes import ProviderRefund, ProviderRefundStatus

SUCCESS_CODE = "10000"
# Methods that take the public notify_url parameter (a refund's outcome is notified to the
# payment's notify_url; the refund API takes none).
NOTIFIED_METHODS = frozenset({"alipay.trade.precreate"})


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: rsa.RSAPrivateKey
    alipay_public_key: rsa.RSAPublicKey
    gateway_url: str
    notify_url: str


@dataclass(frozen=True)
class AlipayNotification:
    notify_id: str
    out_trade_no: str
    trade_no: str
    trade_status: str
    total_fen: int
    refund_fen: int
    out_biz_no: str | None


def request_signing_content(params: Mapping[str, str]) -> str:
    """What a request's `sign` covers: sorted k=v pairs of every non-empty parameter but sign."""
    return "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key != "sign" and params[key] != ""
    )


def notification_signing_content(params: Mapping[str, str]) -> str:
    """What a notification's `sign` covers: sorted k=v pairs of all but sign and sign_type."""
    return "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key not in ("sign", "sign_type")
    )


def yuan_to_fen(text: str) -> int:
    """'12.34' -> 1234, exactly; anything with more than two decimals is refused."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    fen = value * 100
    if fen != fen.to_integral_value() or fen < 0:
        raise ValueError(f"not a fen amount: {text!r}")
    return int(fen)


def parse_notification(config: AlipayConfig, params: Mapping[str, str]) -> AlipayNotification:
    """Verify an asynchronous notification's RSA2 signature and read its fields."""
    if params.get("sign_type") != "RSA2":
        raise NotificationRejected("sign_type must be RSA2")
    if params.get("app_id") != config.app_id:
        raise NotificationRejected("notification for another app")
    if not verify_sha256(
        config.alipay_public_key,
        notification_signing_content(params).encode(),
        params.get("sign", ""),
    ):
        raise NotificationRejected("signature does not verify")
    try:
        return AlipayNotification(
            notify_id=params["notify_id"],
            out_trade_no=params["out_trade_no"],
            trade_no=params["trade_no"],
            trade_status=params["trade_status"],
            total_fen=yuan_to_fen(params["total_amount"]),
            refund_fen=yuan_to_fen(params.get("refund_fee") or "0"),
            out_biz_no=params.get("out_biz_no") or None,
        )
    except (KeyError, ValueError) as exc:
        raise NotificationRejected(f"malformed notification: {exc}") from exc


def response_node(text: str, node: str) -> tuple[dict[str, Any], str]:
    """The named response object and its exact source text (what Alipay signed)."""
    marker = f'"{node}"'
    start = text.find(marker)
    if start < 0:
        raise ProviderError(f"Alipay response lacks {node}", retryable=True)
    colon = text.index(":", start + len(marker)) + 1
    while text[colon].isspace():
        colon += 1
    value, end = json.JSONDecoder().raw_decode(text, colon)
    return value, text[colon:end]


class AlipayClient:
    """Calls to the Alipay open platform (precreate for a QR code, refund)."""

    def __init__(self, config: AlipayConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self._http = http

    def signed_params(
        self, method: str, biz_content: dict[str, Any], now: datetime
    ) -> dict[str, str]:
        """The request parameters of `method`, signed with the app key."""
        params = {
            "app_id": self.config.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": to_shanghai(now).strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
        }
        if method in NOTIFIED_METHODS:
            params["notify_url"] = self.config.notify_url
        params["sign"] = sign_sha256(
            self.config.app_private_key, request_signing_content(params).encode()
        )
        return params

    async def _call(
        self, method: str, biz_content: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        try:
            response = await self._http.post(
                self.config.gateway_url, data=self.signed_params(method, biz_content, now)
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"Alipay unreachable: {exc}", retryable=True) from exc
        if not response.is_success:
            raise ProviderError(f"Alipay HTTP {response.status_code}", retryable=True)
        text = response.text
        node, source = response_node(text, method.replace(".", "_") + "_response")
        signature = json.loads(text).get("sign", "")
        if not verify_sha256(self.config.alipay_public_key, source.encode(), signature):
            raise ProviderError("unverified Alipay response", retryable=True)
        if node.get("code") != SUCCESS_CODE:
            raise ProviderError(
                f"Alipay refused: {node.get('sub_code')} {node.get('sub_msg')}", retryable=False
            )
        return node

    async def precreate(
        self, out_trade_no: str, amount_fen: int, subject: str, now: datetime
    ) -> dict[str, str]:
        """Create a QR-code order the patient scans at hand-over."""
        node = await self._call(
            "alipay.trade.precreate",
            {
                "out_trade_no": out_trade_no,
                "total_amount": fen_to_yuan(amount_fen),
                "subject": subject,
            },
            now,
        )
        return {"qr_code": str(node["qr_code"])}

    async def refund(
        self, out_trade_no: str, out_refund_no: str, refund_fen: int, reason: str, now: datetime
    ) -> ProviderRefund:
        """Refund part or all of a trade (out_request_no makes retries safe).

        Only `fund_change` = Y means the money moved; anything else is confirmed by a query.
        """
        node = await self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": out_trade_no,
                "out_request_no": out_refund_no,
                "refund_amount": fen_to_yuan(refund_fen),
                "refund_reason": reason[:80],
            },
            now,
        )
        if node.get("fund_change") == "Y":
            return ProviderRefund(ProviderRefundStatus.succeeded, str(node.get("trade_no") or ""))
        return ProviderRefund(ProviderRefundStatus.processing)

    async def query_refund(
        self, out_trade_no: str, out_refund_no: str, now: datetime
    ) -> ProviderRefund:
        """Where a refund stands (alipay.trade.fastpay.refund.query).

        Alipay: data returned with refund_status empty or REFUND_SUCCESS means refunded; no data
        means there is no such refund.
        """
        node = await self._call(
            "alipay.trade.fastpay.refund.query",
            {
                "out_trade_no": out_trade_no,
                "out_request_no": out_refund_no,
                "query_options": ["gmt_refund_pay"],
            },
            now,
        )
        if not node.get("refund_amount"):
            return ProviderRefund(ProviderRefundStatus.not_found)
        status = node.get("refund_status") or "REFUND_SUCCESS"
        if status == "REFUND_SUCCESS":
            return ProviderRefund(ProviderRefundStatus.succeeded, str(node.get("trade_no") or ""))
        return ProviderRefund(ProviderRefundStatus.processing, detail=str(status))
