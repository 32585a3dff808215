"""WeChat mini-program sign-in: exchange a `wx.login` code for the user's openid (code2session)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from app.errors import BadGateway, Unauthorized

log = logging.getLogger(__name__)

# errcodes meaning "this code is no good": invalid, already used, or blocked user.
_BAD_CODE_ERRCODES = {40029, 40163, 40226}


@dataclass(frozen=True)
class WeChatIdentity:
    """What code2session tells us. The session key stays server-side and is never stored."""

    openid: str
    unionid: str | None


class WeChatClient:
    """A small client of WeChat's `sns/jscode2session` endpoint."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, appid: str, secret: str) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + "/sns/jscode2session"
        self._appid = appid
        self._secret = secret

    async def code_to_session(self, code: str) -> WeChatIdentity:
        """Exchange a login code; a bad code is 401, WeChat trouble is 502."""
        params = {
            "appid": self._appid,
            "secret": self._secret,
            "js_code": code,
            "grant_type": "authorization_code",
        }
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(httpx.TransportError),
                stop=stop_after_attempt(3),
                wait=wait_exponential_jitter(multiplier=0.1, max=1.0),
                reraise=True,
            ):
                with attempt:
                    response = await self._http.get(self._url, params=params)
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("wechat code2session failed", exc_info=exc)
            raise BadGateway("wechat_unavailable") from exc
        errcode = int(data.get("errcode") or 0)
        if errcode in _BAD_CODE_ERRCODES:
            raise Unauthorized("wechat_code_invalid")
        if errcode or not data.get("openid"):
            log.warning("wechat code2session error", extra={"errcode": errcode})
            raise BadGateway("wechat_unavailable")
        return WeChatIdentity(openid=str(data["openid"]), unionid=data.get("unionid"))
