"""Alipay open platform: RSA2-signed requests, verified responses and notifications.

The signature covers the parameters sorted by name, `sign` and `sign_type` left out (and empty
values skipped), joined as k=v with '&'. Amounts travel as yuan strings; they are converted to
fen exactly (Decimal), never through a float.
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
from app.payment.providers.errors import NotificationRejected, ProviderError
from app.payment.providers.keys import sign_sha256, verify_sha256

SUCCESS_CODE = "10000"


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


def signing_content(params: Mapping[str, str]) -> str:
    """The string Alipay signs: sorted k=v pairs without sign/sign_type or empty values."""
    return "&".join(
        f"{key}={params[key]}"
        for key in sorted(params)
        if key not in ("sign", "sign_type") and params[key] != ""
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


def fen_to_yuan(fen: int) -> str:
    """1234 -> '12.34'."""
    return f"{fen // 100}.{fen % 100:02d}"


def parse_notification(config: AlipayConfig, params: Mapping[str, str]) -> AlipayNotification:
    """Verify an asynchronous notification's RSA2 signature and read its fields."""
    if params.get("sign_type") != "RSA2":
        raise NotificationRejected("sign_type must be RSA2")
    if params.get("app_id") != config.app_id:
        raise NotificationRejected("notification for another app")
    if not verify_sha256(
        config.alipay_public_key, signing_content(params).encode(), params.get("sign", "")
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
            "notify_url": self.config.notify_url,
            "biz_content": json.dumps(biz_content, ensure_ascii=False, separators=(",", ":")),
        }
        params["sign"] = sign_sha256(self.config.app_private_key, signing_content(params).encode())
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
    ) -> None:
        """Refund part or all of a trade (out_request_no makes retries safe)."""
        await self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": out_trade_no,
                "out_request_no": out_refund_no,
                "refund_amount": fen_to_yuan(refund_fen),
                "refund_reason": reason[:80],
            },
            now,
        )
