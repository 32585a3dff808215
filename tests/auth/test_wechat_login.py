"""Patient sign-in through the mini-program flow (wx.login code -> code2session)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import func, select

from app.models import Account, Patient


async def wx_login(fake_wechat: httpx.AsyncClient, openid: str) -> str:
    response = await fake_wechat.post("/wx.login", json={"openid": openid})
    return str(response.json()["code"])


async def test_first_login_creates_patient_account_and_returns_tokens(
    client: httpx.AsyncClient, fake_wechat: httpx.AsyncClient, db_session
) -> None:
    code = await wx_login(fake_wechat, "openid-new-patient")
    response = await client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert response.status_code == 200
    body = response.json()
    assert body["account"]["role"] == "patient"
    assert body["account"]["patient_id"]
    assert body["access_token"] and body["refresh_token"]
    count = await db_session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.wechat_openid == "openid-new-patient")
    )
    assert count == 1
    assert await db_session.get(Patient, uuid.UUID(body["account"]["patient_id"])) is not None


async def test_second_login_reuses_the_same_account(client, fake_wechat) -> None:
    first = await client.post(
        "/api/v1/auth/wechat-login", json={"code": await wx_login(fake_wechat, "openid-returning")}
    )
    second = await client.post(
        "/api/v1/auth/wechat-login", json={"code": await wx_login(fake_wechat, "openid-returning")}
    )
    assert first.json()["account"]["id"] == second.json()["account"]["id"]


async def test_session_key_is_never_returned(client, fake_wechat) -> None:
    code = await wx_login(fake_wechat, "openid-session-key")
    response = await client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert "session_key" not in response.text


async def test_code_is_single_use(client, fake_wechat) -> None:
    code = await wx_login(fake_wechat, "openid-single-use")
    assert (await client.post("/api/v1/auth/wechat-login", json={"code": code})).status_code == 200
    again = await client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert again.status_code == 401
    assert again.json()["code"] == "wechat_code_invalid"
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_unknown_code_is_refused_in_chinese_by_default(client) -> None:
    response = await client.post("/api/v1/auth/wechat-login", json={"code": "nope"})
    assert response.status_code == 401
    assert response.json()["detail"] == "微信登录凭证无效或已使用，请重新登录"


async def test_error_detail_is_english_when_asked(client) -> None:
    response = await client.post(
        "/api/v1/auth/wechat-login", json={"code": "nope"}, headers={"Accept-Language": "en-US"}
    )
    assert response.json()["detail"] == "The WeChat login code is invalid or already used"


async def test_wechat_outage_is_a_clean_502(app, client) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down", request=request)

    from app.auth.wechat import WeChatClient

    app.state.wechat = WeChatClient(
        httpx.AsyncClient(transport=httpx.MockTransport(refuse)), "http://wx", "a", "s"
    )
    response = await client.post("/api/v1/auth/wechat-login", json={"code": "abc"})
    assert response.status_code == 502
    assert response.json()["code"] == "wechat_unavailable"
