"""A client of WeChat's mini-program subscription messages (`subscribeMessage.send`).

POST /cgi-bin/message/subscribe/send?access_token=... with `touser` (openid), `template_id`,
`page`, `data` ({key: {value}}), `miniprogram_state` and `lang`; WeChat answers
{"errcode": 0, "errmsg": "ok"} or an error code. The access token comes from
POST /cgi-bin/stable_token (grant_type client_credential, appid, secret, force_refresh) and is
replaced once when WeChat calls it invalid (40001, 40014) or expired (42001).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import structlog

from app.kit.masking import mask_openid
from app.notify.tokens import AccessTokenCache, FetchToken, IssuedToken

log = structlog.get_logger(__name__)

STABLE_TOKEN_PATH = "/cgi-bin/stable_token"  # noqa: S105 (a path, not a secret)
SEND_PATH = "/cgi-bin/message/subscribe/send"

# The token is invalid (40001, 40014) or expired (42001): get another and send once more
# (the codes wechatpy's client also refreshes on).
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
# The person has not subscribed to the template (or used the grant up): no retry can help.
NOT_SUBSCRIBED = 43101
# The mini-program's daily call quota is used up (45009); sending again today is pointless.
QUOTA_REACHED = frozenset({45009})
# WeChat is busy (-1): try again later.
BUSY = frozenset({-1})
_ERRMSG_CHARS = 200


class WeChatMessageError(Exception):
    """WeChat answered an error code."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat errcode {errcode}: {errmsg[:_ERRMSG_CHARS]}")
        self.errcode = errcode

    @property
    def retryable(self) -> bool:
        """Whether sending again later may succeed (WeChat busy, or a token still refused)."""
        return self.errcode in BUSY or self.errcode in TOKEN_REFUSED


def _errcode(answer: dict[str, Any]) -> int:
    code = answer.get("errcode", 0)
    return code if isinstance(code, int) else -1


def _answer(response: httpx.Response) -> dict[str, Any]:
    # Not raise_for_status: its message carries the URL, and with it the access token.
    if not response.is_success:
        raise WeChatMessageError(-1, f"HTTP {response.status_code}")
    answer: dict[str, Any] = response.json()
    return answer


class SubscribeMessageClient:
    """Sends subscription messages with a shared access token."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        api_base: str,
        appid: str,
        secret: str,
        tokens: Callable[[FetchToken], AccessTokenCache],
        miniprogram_state: str = "formal",
        lang: str = "zh_CN",
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._appid, self._secret = appid, secret
        self._state, self._lang = miniprogram_state, lang
        self.tokens = tokens(self.fetch_token)

    async def fetch_token(self, force_refresh: bool) -> IssuedToken:
        """Ask `stable_token` for the access token (a new one if `force_refresh`)."""
        response = await self._http.post(
            self._base + STABLE_TOKEN_PATH,
            json={
                "grant_type": "client_credential",
                "appid": self._appid,
                "secret": self._secret,
                "force_refresh": force_refresh,
            },
        )
        answer = _answer(response)
        if _errcode(answer) != 0 or not isinstance(answer.get("access_token"), str):
            raise WeChatMessageError(_errcode(answer), str(answer.get("errmsg", "")))
        log.info("wechat access token fetched", force_refresh=force_refresh)
        return IssuedToken(answer["access_token"], int(answer.get("expires_in", 7200)))

    async def send(
        self, openid: str, template_id: str, data: dict[str, dict[str, str]], page: str | None
    ) -> None:
        """Send one subscription message; WeChatMessageError when WeChat refuses it."""
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": data,
            "miniprogram_state": self._state,
            "lang": self._lang,
        }
        if page:
            body["page"] = page
        token = await self.tokens.current()
        answer = await self._post(token, body)
        if _errcode(answer) in TOKEN_REFUSED:
            log.info("wechat access token refused", errcode=_errcode(answer))
            answer = await self._post(await self.tokens.replace(token), body)
        code = _errcode(answer)
        if code != 0:
            log.warning(
                "wechat subscription message refused",
                errcode=code,
                touser=mask_openid(openid),
                template_id=template_id,
            )
            raise WeChatMessageError(code, str(answer.get("errmsg", "")))

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._http.post(
            self._base + SEND_PATH, params={"access_token": token}, json=body
        )
        return _answer(response)
