"""Idempotency keys are bound to the request that first used them: the same key with the same
request replays, the same key with another body or path is 422 `idempotency_key_reused` (as
Stripe answers), on every endpoint that takes one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app import idempotency as binding
from app.config import Settings
from app.idempotency.keys import fingerprint
from app.main import create_app
from tests.enrollment import builders
from tests.fixtures import factories
from tests.prescription.world import World, approved, build, dispatched, item, ok, ordered, rx_body

BINDERS = {binding.optional_key, binding.required_key, binding.required_order_key}


def test_the_fingerprint_ignores_json_key_order_and_spacing() -> None:
    first = fingerprint("POST", "/api/v1/orders", "", b'{"a": 1, "b": [1, 2]}')
    assert first == fingerprint("post", "/api/v1/orders", "", b'{"b":[1,2],"a":1}')


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("PUT", "/api/v1/orders", "", b'{"a":1}'),
        ("POST", "/api/v1/orders/x", "", b'{"a":1}'),
        ("POST", "/api/v1/orders", "x=1", b'{"a":1}'),
        ("POST", "/api/v1/orders", "", b'{"a":2}'),
        ("POST", "/api/v1/orders", "", b""),
    ],
)
def test_the_fingerprint_tells_other_requests_apart(
    method: str, path: str, query: str, body: bytes
) -> None:
    assert fingerprint(method, path, query, body) != fingerprint(
        "POST", "/api/v1/orders", "", b'{"a":1}'
    )


def _calls(dependant: Dependant) -> list[Dependant]:
    return [dependant, *(d for sub in dependant.dependencies for d in _calls(sub))]


def test_every_endpoint_taking_an_idempotency_key_binds_it_to_the_request() -> None:
    app = create_app(Settings(APP_ENV="test"))
    taking = []
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        for dependant in _calls(context.original_route.dependant):
            if any(p.alias == "Idempotency-Key" for p in dependant.header_params):
                taking.append(context.path_format)
                assert dependant.call in BINDERS, (context.path_format, dependant.call)
    assert "/api/v1/orders" in taking and "/api/v1/orders/{order_id}/location" in taking


async def _again(
    client, url: str, headers: dict[str, str], first: Any, other: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """First body, then another body under the same key (422), then the first body again (a
    replay); returns the first and the replayed answers."""
    created = await client.post(url, json=first, headers=headers)
    assert created.status_code in (200, 201), created.text
    reused = await client.post(url, json=other, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    replayed = await client.post(url, json=first, headers=headers)
    assert replayed.status_code == created.status_code
    return created.json(), replayed.json()


@pytest.fixture
async def world(db_session, settings, app) -> World:
    return await build(db_session, settings, app=app)


def _keyed(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": f"key-{uuid.uuid4().hex}"}


async def test_an_order_key_reused_for_another_prescription_is_422(client, world: World) -> None:
    first = await approved(client, world)
    other = await approved(client, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
    store = str(world.store.id)
    created, replayed = await _again(
        client,
        "/api/v1/orders",
        _keyed(world.as_("patient")),
        {"prescription_id": first, "store_id": store},
        {"prescription_id": other, "store_id": store},
    )
    assert replayed == created


async def test_a_prescription_key_reused_for_another_body_is_422(client, world: World) -> None:
    body = rx_body(world)
    created, replayed = await _again(
        client,
        "/api/v1/prescriptions",
        _keyed(world.as_("doctor")),
        body,
        {**body, "diagnosis_zh": "2型糖尿病，复诊"},
    )
    assert replayed["id"] == created["id"]


async def test_a_position_key_reused_for_another_position_is_422(client, world: World) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    created, replayed = await _again(
        client,
        f"/api/v1/orders/{order['id']}/location",
        _keyed(world.as_("courier")),
        {"lat": 37.86, "lng": 113.58},
        {"lat": 37.90, "lng": 113.60},
    )
    assert (created["recorded"], replayed["recorded"]) == (True, False)


async def test_a_step_key_reused_on_another_step_is_422(client, world: World) -> None:
    order = await ordered(client, world)
    headers = _keyed(world.as_("pharmacist"))
    url = f"/api/v1/orders/{order['id']}"
    await ok(await client.post(f"{url}/accept", headers=headers))
    cancelled = await client.post(f"{url}/cancel", json={"reason": "缺货"}, headers=headers)
    assert cancelled.status_code == 422 and cancelled.json()["code"] == "idempotency_key_reused"
    assert (await ok(await client.get(url, headers=world.as_("pharmacist"))))[
        "status"
    ] == "accepted"


async def test_an_application_key_reused_for_another_institution_is_422(
    client, db_session, settings
) -> None:
    await builders.catalogue(db_session)
    account, _ = await builders.patient(db_session)
    headers = _keyed(await factories.bearer(db_session, settings, account))
    first = await factories.institution(db_session)
    other = await factories.institution(db_session)
    created, replayed = await _again(
        client,
        "/api/v1/enrollment/applications",
        headers,
        {"disease_code": "M01603", "institution_id": str(first.id)},
        {"disease_code": "M01603", "institution_id": str(other.id)},
    )
    assert replayed["id"] == created["id"]


async def test_a_consultation_key_reused_for_another_reason_is_422(
    client, db_session, settings
) -> None:
    await builders.doctor(db_session, presence="online")
    account, _ = await builders.patient(db_session, "M01603")
    headers = _keyed(await factories.bearer(db_session, settings, account))
    created, replayed = await _again(
        client, "/api/v1/consultations", headers, {"reason": "血糖高"}, {"reason": "血压高"}
    )
    assert replayed["id"] == created["id"]


async def test_a_referral_key_reused_for_another_reason_is_422(
    client, db_session, settings
) -> None:
    doctor_account, doctor = await builders.doctor(db_session)
    _, patient = await builders.patient(db_session, "M01603")
    await factories.care(db_session, patient, doctor)
    community = await factories.institution(db_session, level="secondary")
    body = {
        "patient_id": str(patient.id),
        "direction": "down",
        "to_institution_id": str(community.id),
        "reason": "病情稳定，下转社区",
    }
    headers = _keyed(await factories.bearer(db_session, settings, doctor_account))
    created, replayed = await _again(
        client, "/api/v1/care/referrals", headers, body, {**body, "reason": "患者要求就近随访"}
    )
    assert replayed["id"] == created["id"]


async def test_keys_are_the_callers_own(client, world: World, db_session, settings) -> None:
    # The same key string from two doctors is two keys.
    other = await build(db_session, settings)
    key = f"key-{uuid.uuid4().hex}"
    mine = await client.post(
        "/api/v1/prescriptions",
        json=rx_body(world),
        headers={**world.as_("doctor"), "Idempotency-Key": key},
    )
    theirs = await client.post(
        "/api/v1/prescriptions",
        json=rx_body(other),
        headers={**other.as_("doctor"), "Idempotency-Key": key},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
