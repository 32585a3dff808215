"""The requests the WeChat client makes, against WeChat's documented examples: the
`subscribeMessage.send` request example and the `getStableAccessToken` body."""

from __future__ import annotations

import json
from typing import Any

import httpx

from app.notify.tokens import InProcessTokenCache
from app.notify.wechat import SubscribeMessageClient

# The request example of subscribeMessage.send in WeChat's documentation.
DOC_SEND_BODY = {
    "touser": "OPENID",
    "template_id": "TEMPLATE_ID",
    "page": "index",
    "miniprogram_state": "developer",
    "lang": "zh_CN",
    "data": {
        "number01": {"value": "339208499"},
        "date01": {"value": "2015年01月05日"},
        "site01": {"value": "TIT创意园"},
        "site02": {"value": "广州市新港中路397号"},
    },
}


def _recording_client(seen: list[httpx.Request]) -> SubscribeMessageClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/cgi-bin/stable_token":
            return httpx.Response(200, json={"access_token": "ACCESS_TOKEN", "expires_in": 7200})
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return SubscribeMessageClient(
        http,
        "https://api.weixin.qq.com",
        "APPID",
        "APPSECRET",
        lambda fetch: InProcessTokenCache(fetch, margin=300),
        miniprogram_state="developer",
        lang="zh_CN",
    )


async def test_send_and_stable_token_match_the_documented_requests() -> None:
    seen: list[httpx.Request] = []
    client = _recording_client(seen)
    data: dict[str, Any] = DOC_SEND_BODY["data"]  # type: ignore[assignment]
    await client.send("OPENID", "TEMPLATE_ID", data, "index")
    token, send = seen
    assert (token.method, str(token.url)) == (
        "POST",
        "https://api.weixin.qq.com/cgi-bin/stable_token",
    )
    assert json.loads(token.content) == {
        "grant_type": "client_credential",
        "appid": "APPID",
        "secret": "APPSECRET",
        "force_refresh": False,
    }
    assert send.method == "POST"
    assert send.url.path == "/cgi-bin/message/subscribe/send"
    assert send.url.params["access_token"] == "ACCESS_TOKEN"
    assert json.loads(send.content) == DOC_SEND_BODY


async def test_without_a_page_the_message_opens_nothing() -> None:
    seen: list[httpx.Request] = []
    await _recording_client(seen).send("OPENID", "TEMPLATE_ID", {}, None)
    assert "page" not in json.loads(seen[-1].content)
