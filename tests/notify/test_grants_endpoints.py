"""The mini-program reports `wx.requestSubscribeMessage` results; grants are counted once."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.models import Role
from tests.fixtures import factories

URL = "/api/v1/me/subscription-grants"


async def _patient(db_session: AsyncSession, settings: Settings) -> dict[str, str]:
    account = await factories.account(db_session, Role.patient)
    return await factories.bearer(db_session, settings, account)


def _remaining(answer: dict, template_id: str) -> int:
    return next(g["remaining"] for g in answer["grants"] if g["template_id"] == template_id)


async def test_each_accept_allows_one_more_message(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    body = {"results": {"dev-tpl-chat": "accept", "dev-tpl-alert": "reject"}}
    first = await client.post(URL, json=body, headers={**auth, "Idempotency-Key": "a1"})
    assert first.status_code == 200, first.text
    assert {i["template_id"]: i["outcome"] for i in first.json()["items"]} == {
        "dev-tpl-chat": "counted",
        "dev-tpl-alert": "unchanged",
    }
    second = await client.post(URL, json=body, headers={**auth, "Idempotency-Key": "a2"})
    assert _remaining(second.json(), "dev-tpl-chat") == 2
    assert _remaining(second.json(), "dev-tpl-alert") == 0


async def test_a_retried_report_counts_nothing_twice(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    body = {"results": {"dev-tpl-chat": "accept"}}
    for _ in range(3):
        answer = await client.post(URL, json=body, headers={**auth, "Idempotency-Key": "same"})
        assert answer.status_code == 200
    assert _remaining(answer.json(), "dev-tpl-chat") == 1


async def test_a_key_reused_with_other_results_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    headers = {**auth, "Idempotency-Key": "k1"}
    first = {"results": {"dev-tpl-chat": "accept"}}
    assert (await client.post(URL, json=first, headers=headers)).status_code == 200
    other = {"results": {"dev-tpl-alert": "accept"}}
    reused = await client.post(URL, json=other, headers=headers)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    mine = (await client.get(URL, headers=auth)).json()["items"]
    assert {g["template_id"]: g["remaining"] for g in mine}["dev-tpl-alert"] == 0


async def test_a_banned_template_loses_its_grants_and_unknown_ones_are_not_counted(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    accept = {"results": {"dev-tpl-chat": "accept", "tpl-nobody-configured": "accept"}}
    answer = await client.post(URL, json=accept, headers={**auth, "Idempotency-Key": "b1"})
    assert {i["template_id"]: i["outcome"] for i in answer.json()["items"]} == {
        "dev-tpl-chat": "counted",
        "tpl-nobody-configured": "unknown_template",
    }
    ban = {"results": {"dev-tpl-chat": "ban"}}
    answer = await client.post(URL, json=ban, headers={**auth, "Idempotency-Key": "b2"})
    assert _remaining(answer.json(), "dev-tpl-chat") == 0


async def test_the_list_names_each_template_with_its_kinds(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    answer = await client.get(URL, headers=auth)
    assert answer.status_code == 200
    chat = next(g for g in answer.json()["items"] if g["template_id"] == "dev-tpl-chat")
    assert chat == {"template_id": "dev-tpl-chat", "kinds": ["chat_new_message"], "remaining": 0}


async def test_a_report_needs_an_idempotency_key_and_a_known_result(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    auth = await _patient(db_session, settings)
    body = {"results": {"dev-tpl-chat": "accept"}}
    assert (await client.post(URL, json=body, headers=auth)).status_code == 422
    odd = {"results": {"dev-tpl-chat": "maybe"}}
    answer = await client.post(URL, json=odd, headers={**auth, "Idempotency-Key": "c1"})
    assert answer.status_code == 422


@pytest.mark.parametrize("role", [Role.doctor, Role.pharmacist, Role.bureau, Role.admin])
async def test_staff_have_no_subscription_grants(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, role: Role
) -> None:
    staff = await factories.account(db_session, role)
    auth = await factories.bearer(db_session, settings, staff)
    body = {"results": {"dev-tpl-chat": "accept"}}
    posted = await client.post(URL, json=body, headers={**auth, "Idempotency-Key": "d1"})
    assert posted.status_code == 403
    assert (await client.get(URL, headers=auth)).status_code == 403


async def test_anonymous_callers_are_refused(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 401
