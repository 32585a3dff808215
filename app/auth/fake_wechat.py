"""A local stand-in for WeChat's login service, for development and tests (never in prod).

`POST /wx.login {"openid": ...}` plays the phone's `wx.login()`: it returns a code bound to that
user. `GET /sns/jscode2session` behaves like WeChat's: a code is valid for 5 minutes, once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from fastapi import FastAPI
from pydantic import BaseModel, Field

CODE_TTL_SECONDS = 300.0


class WxLoginRequest(BaseModel):
    openid: str = Field(min_length=1, max_length=64)


@dataclass
class FakeWeChatState:
    appid: str
    secret: str
    codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)


def create_fake_wechat_app(appid: str, secret: str) -> FastAPI:
    """The fake WeChat as an ASGI app (mounted under /_dev/wechat in dev)."""
    state = FakeWeChatState(appid=appid, secret=secret)
    fake = FastAPI(title="Fake WeChat (dev only)", openapi_url=None, docs_url=None)

    @fake.post("/wx.login")
    async def wx_login(body: WxLoginRequest) -> dict[str, object]:
        code = secrets.token_hex(16)
        state.codes[code] = (body.openid, time.monotonic() + CODE_TTL_SECONDS)
        return {"code": code, "expires_in": int(CODE_TTL_SECONDS)}

    @fake.get("/sns/jscode2session")
    async def jscode2session(
        appid: str, secret: str, js_code: str, grant_type: str
    ) -> dict[str, object]:
        if appid != state.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if secret != state.secret or grant_type != "authorization_code":
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if js_code in state.used:
            return {"errcode": 40163, "errmsg": "code been used"}
        entry = state.codes.pop(js_code, None)
        if entry is None or entry[1] < time.monotonic():
            return {"errcode": 40029, "errmsg": "invalid code"}
        state.used.add(js_code)
        openid = entry[0]
        return {"openid": openid, "session_key": secrets.token_urlsafe(16), "unionid": None}

    return fake
