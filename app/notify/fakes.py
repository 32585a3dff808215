"""Development stand-ins, served by the app (never in prod), for WeChat's subscription-message
API and Tencent Cloud's SMS: same paths, bodies and error shapes, plus control endpoints
that make the next calls fail with a chosen code (43101, 45009, a token refused) so tests and
demos reach those paths.

WeChat (included in the fake WeChat under /_dev/wechat):
  POST /cgi-bin/stable_token, POST /cgi-bin/message/subscribe/send?access_token=...
  POST /_control/fail-next {"errcode": 43101, "times": 1}
  POST /_control/expire-token (the current token answers 42001) and /_control/revoke-token (40001)
  GET  /_control/sent (what was delivered)
SMS (mounted under /_dev/sms): POST / (TC3-HMAC-SHA256 signed SendSms, and PullSmsSendStatus
  handing out each delivered message's report once),
  POST /_control/fail-next {"code": "LimitExceeded.PhoneNumberDailyLimit"}, GET /_control/sent
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, Field

from app.notify.fields import THING_CHARS
from app.notify.sms import (
    ACTION,
    PULL_ACTION,
    PULL_LIMIT,
    SERVICE,
    VERSION,
    tc3_authorization,
)

TOKEN_SECONDS = 7200
SIGNATURE_MAX_SKEW_SECONDS = 300


class FailNext(BaseModel):
    errcode: int
    times: int = Field(default=1, ge=1, le=100)


class SmsFailNext(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    times: int = Field(default=1, ge=1, le=100)


@dataclass
class _WeChatState:
    appid: str
    secret: str
    token: str | None = None
    expires_at: float = 0.0
    revoked: set[str] = field(default_factory=set)
    failures: deque[int] = field(default_factory=deque)
    sent: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": f"{errmsg} rid: {uuid.uuid4().hex[:8]}"}


def fake_wechat_messages_router(appid: str, secret: str) -> APIRouter:
    """The fake subscription-message API, to include in the fake WeChat app."""
    state = _WeChatState(appid=appid, secret=secret)
    router = APIRouter()

    @router.post("/cgi-bin/stable_token")
    async def stable_token(body: dict[str, Any]) -> dict[str, Any]:
        if body.get("grant_type") != "client_credential":
            return _error(40002, "invalid grant_type")
        if body.get("appid") != state.appid:
            return _error(40013, "invalid appid")
        if body.get("secret") != state.secret:
            return _error(40125, "invalid appsecret")
        now = time.monotonic()
        if body.get("force_refresh") or state.token is None or now >= state.expires_at:
            if state.token is not None:
                state.revoked.add(state.token)
            state.token, state.expires_at = secrets.token_urlsafe(24), now + TOKEN_SECONDS
            state.tokens_issued += 1
        return {"access_token": state.token, "expires_in": int(state.expires_at - now)}

    @router.post("/cgi-bin/message/subscribe/send")
    async def send(access_token: str, body: dict[str, Any]) -> dict[str, Any]:
        if access_token in state.revoked or access_token != state.token:
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        if time.monotonic() >= state.expires_at:
            return _error(42001, "access_token expired")
        if state.failures:
            return _error(state.failures.popleft(), "failure asked for by /_control/fail-next")
        data = body.get("data")
        if not body.get("touser") or not body.get("template_id") or not isinstance(data, dict):
            return _error(47003, "argument invalid! touser, template_id and data are required")
        for key, item in data.items():
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                return _error(47003, f"argument invalid! data.{key}.value is empty")
            if key.startswith("thing") and len(value) > THING_CHARS:
                return _error(47003, f"argument invalid! data.{key}.value exceeds limit")
        state.sent.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": len(state.sent)}

    @router.post("/_control/fail-next")
    async def fail_next(body: FailNext) -> dict[str, int]:
        state.failures.extend([body.errcode] * body.times)
        return {"queued": len(state.failures)}

    @router.post("/_control/expire-token")
    async def expire_token() -> dict[str, bool]:
        state.expires_at = 0.0
        return {"expired": True}

    @router.post("/_control/revoke-token")
    async def revoke_token() -> dict[str, bool]:
        if state.token is not None:
            state.revoked.add(state.token)
        return {"revoked": True}

    @router.get("/_control/sent")
    async def sent() -> dict[str, Any]:
        return {"messages": state.sent, "tokens_issued": state.tokens_issued}

    return router


def _sms_error(code: str, message: str) -> dict[str, Any]:
    return {
        "Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}
    }


def create_fake_sms_app(secret_id: str, secret_key: str, sdk_app_id: str) -> FastAPI:
    """The fake Tencent Cloud SMS endpoint as an ASGI app (mounted under /_dev/sms in dev)."""
    failures: deque[str] = deque()
    delivered: list[dict[str, Any]] = []
    # Delivery reports not pulled yet (PullSmsSendStatus hands each out once).
    reports: deque[dict[str, Any]] = deque()
    fake = FastAPI(title="Fake Tencent Cloud SMS (dev only)", openapi_url=None, docs_url=None)

    @fake.post("/")
    async def send_sms(request: Request) -> dict[str, Any]:
        payload = await request.body()
        headers = request.headers
        action = headers.get("x-tc-action")
        if action not in (ACTION, PULL_ACTION) or headers.get("x-tc-version") != VERSION:
            return _sms_error("InvalidAction", "only SendSms and PullSmsSendStatus 2021-01-11")
        timestamp = int(headers.get("x-tc-timestamp", "0"))
        if abs(time.time() - timestamp) > SIGNATURE_MAX_SKEW_SECONDS:
            return _sms_error("AuthFailure.SignatureExpire", "signature expired")
        expected = tc3_authorization(
            secret_id,
            secret_key,
            SERVICE,
            headers.get("host", ""),
            timestamp,
            payload,
            headers.get("content-type", ""),
        )
        if not secrets.compare_digest(headers.get("authorization", ""), expected):
            return _sms_error("AuthFailure.SignatureFailure", "signature verification failed")
        body = await request.json()
        if body.get("SmsSdkAppId") != sdk_app_id:
            return _sms_error("FailedOperation.SmsSdkAppIdVerifyFail", "unknown SmsSdkAppId")
        if action == PULL_ACTION:
            limit = min(int(body.get("Limit") or 0), PULL_LIMIT)
            pulled = [reports.popleft() for _ in range(min(limit, len(reports)))]
            return {"Response": {"PullSmsSendStatusSet": pulled, "RequestId": str(uuid.uuid4())}}
        phones = body.get("PhoneNumberSet") or []
        code = failures.popleft() if failures else "Ok"
        statuses = [
            {
                "SerialNo": uuid.uuid4().hex,
                "PhoneNumber": phone,
                "Fee": 1,
                "SessionContext": body.get("SessionContext", ""),
                "Code": code,
                "Message": "send success" if code == "Ok" else "asked for",
                "IsoCode": "CN",
            }
            for phone in phones
        ]
        if code == "Ok":
            delivered.append(body)
            reports.extend(
                {
                    "UserReceiveTime": int(time.time()),
                    "CountryCode": "86",
                    "SubscriberNumber": status["PhoneNumber"].removeprefix("+86"),
                    "PhoneNumber": status["PhoneNumber"],
                    "SerialNo": status["SerialNo"],
                    "ReportStatus": "SUCCESS",
                    "Description": "DELIVRD",
                    "SessionContext": status["SessionContext"],
                }
                for status in statuses
            )
        return {"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}}

    @fake.post("/_control/fail-next")
    async def fail_next(body: SmsFailNext) -> dict[str, int]:
        failures.extend([body.code] * body.times)
        return {"queued": len(failures)}

    @fake.get("/_control/sent")
    async def sent() -> dict[str, Any]:
        return {"messages": delivered}

    return fake
