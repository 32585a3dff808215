"""Tencent Cloud SMS (API 3.0 `SendSms` and `PullSmsSendStatus`, version 2021-01-11) over the
shared httpx client.

Requests are signed with TC3-HMAC-SHA256 as Tencent Cloud documents it ("Signature v3"); the
official Python SDK is synchronous (requests) and large, and signing is the only part needed,
so it is done here with the standard library's HMAC and checked against the documentation's
worked example (tests/notify/test_sms.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from app.config import Settings
from app.kit.clock import utcnow
from app.kit.masking import mask_phone

log = structlog.get_logger(__name__)

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "sms"
ACTION = "SendSms"
PULL_ACTION = "PullSmsSendStatus"
# PullSmsSendStatus hands back at most this many reports per call.
PULL_LIMIT = 100
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
SIGNED_HEADERS = "content-type;host"
# Error codes worth another attempt later: Tencent's own trouble and its request rate limit.
RETRYABLE_PREFIXES = ("InternalError", "RequestLimitExceeded")


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str = CONTENT_TYPE,
) -> str:
    """The `Authorization` header of a POST to Tencent Cloud API 3.0 signed at `timestamp`."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host.lower()}\n",
            SIGNED_HEADERS,
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{day}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    signing_key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"{ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )


def e164(phone: str) -> str:
    """A mainland mobile number (13934561234) in the +86 form SendSms takes."""
    return phone if phone.startswith("+") else f"+86{phone}"


class SmsError(Exception):
    """Tencent Cloud refused the message (a code such as LimitExceeded.PhoneNumberDailyLimit)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"SMS refused: {code}")
        self.code = code

    @property
    def retryable(self) -> bool:
        """Whether another attempt later may succeed."""
        return self.code.startswith(RETRYABLE_PREFIXES)


@dataclass(frozen=True)
class SmsReport:
    """One delivery report from `PullSmsSendStatus`: `session_context` is what the message was
    sent with (the outbox idempotency key), `report_status` SUCCESS or FAIL."""

    session_context: str
    report_status: str
    description: str
    serial_no: str

    @property
    def delivered(self) -> bool:
        return self.report_status == "SUCCESS"


class TencentSmsClient:
    """Sends one templated SMS at a time."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        region: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._http, self._url = http, api_base.rstrip("/") + "/"
        self._host = urlsplit(self._url).netloc
        self._secret_id, self._secret_key = secret_id, secret_key
        self._app_id, self._sign_name, self._region = sdk_app_id, sign_name, region
        self._clock = clock

    async def send(self, phone: str, template_id: str, params: list[str], context: str) -> None:
        """Send template `template_id` with `params` to `phone`; SmsError if refused.
        `context` comes back in Tencent's delivery reports (the outbox idempotency key)."""
        answer = await self._call(
            ACTION,
            {
                "PhoneNumberSet": [e164(phone)],
                "SmsSdkAppId": self._app_id,
                "SignName": self._sign_name,
                "TemplateId": template_id,
                "TemplateParamSet": params,
                "SessionContext": context,
            },
        )
        statuses = answer.get("SendStatusSet") or [{}]
        code = str(statuses[0].get("Code", "UnknownError"))
        if code != "Ok":
            raise SmsError(code)
        log.info("sms sent", phone=mask_phone(phone), template_id=template_id)

    async def pull_reports(self) -> list[SmsReport]:
        """The delivery reports Tencent has not handed out yet (each is handed out once; the
        API must be enabled for the SmsSdkAppId by Tencent's SMS support)."""
        answer = await self._call(PULL_ACTION, {"SmsSdkAppId": self._app_id, "Limit": PULL_LIMIT})
        return [
            SmsReport(
                session_context=str(item.get("SessionContext") or ""),
                report_status=str(item.get("ReportStatus") or ""),
                description=str(item.get("Description") or ""),
                serial_no=str(item.get("SerialNo") or ""),
            )
            for item in answer.get("PullSmsSendStatusSet") or []
        ]

    async def _call(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one signed API 3.0 request; its `Response`, or SmsError for an `Error`."""
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self._clock().timestamp())
        headers = {
            "Authorization": tc3_authorization(
                self._secret_id, self._secret_key, SERVICE, self._host, timestamp, payload
            ),
            "Content-Type": CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self._region,
        }
        response = await self._http.post(self._url, content=payload, headers=headers)
        if not response.is_success:
            raise SmsError(f"InternalError.HTTP{response.status_code}")
        answer: dict[str, Any] = response.json().get("Response", {})
        error = answer.get("Error")
        if error is not None:
            raise SmsError(str(error.get("Code", "UnknownError")))
        return answer


def tencent_sms_client(settings: Settings, http: httpx.AsyncClient) -> TencentSmsClient:
    """The SMS client the settings describe."""
    return TencentSmsClient(
        http,
        settings.sms_api_base,
        settings.sms_secret_id,
        settings.sms_secret_key,
        settings.sms_sdk_app_id,
        settings.sms_sign_name,
        settings.sms_region,
    )
