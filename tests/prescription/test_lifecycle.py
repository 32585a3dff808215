"""Review, revision, revocation and renewal; every legal and illegal move of the prescription
state machine through the API (409 and nothing changed when illegal)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.errors import Conflict
from app.models import PharmacyStock, Prescription, PrescriptionTransition
from app.prescription.states import PRESCRIPTION_MACHINE, RxStatus
from tests.prescription import phone as doctor_phone
from tests.prescription.world import (
    World,
    approved,
    item,
    ok,
    ordered,
    picked,
    rx_body,
    signed,
)

URL = "/api/v1/prescriptions"


async def _status(db_session, prescription_id: str) -> tuple[str, int]:
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None
    await db_session.refresh(row)
    history = await db_session.scalar(
        select(func.count()).where(PrescriptionTransition.prescription_id == row.id)
    )
    return row.status, int(history or 0)


async def test_reject_returns_it_to_the_doctor_who_revises_and_signs_again(
    client, world: World
) -> None:
    prescription_id = await signed(client, world)
    rejected = await ok(
        await client.post(
            f"{URL}/{prescription_id}/reject",
            json={"reason": "剂量请调整为每日一次"},
            headers=world.as_("reviewer"),
        )
    )
    assert rejected["status"] == "rejected" and rejected["review_reason"] == "剂量请调整为每日一次"
    revised = await ok(
        await client.post(
            f"{URL}/{prescription_id}/revise",
            json={"items": [item(world.drugs.metformin, "1", "qd", 7)]},
            headers=world.as_("doctor"),
        )
    )
    assert revised["status"] == "draft" and revised["signature"] is None
    resigned = await ok(
        await doctor_phone.sign(client, prescription_id, world.as_("doctor"), world.phone)
    )
    assert resigned["status"] == "pending_review"
    assert [h["to_status"] for h in resigned["history"]] == [
        "draft", "pending_review", "rejected", "draft", "pending_review",
    ]  # fmt: skip


async def test_the_review_queue_shows_signed_prescriptions_of_the_institution(
    client, world: World
) -> None:
    await ok(await client.post(URL, json=rx_body(world), headers=world.as_("doctor")), 201)
    prescription_id = await signed(client, world, rx_body(world, item(world.drugs.acarbose)))
    queue = await ok(
        await client.get(f"{URL}?status=pending_review", headers=world.as_("reviewer"))
    )
    assert [p["id"] for p in queue["items"]] == [prescription_id]


async def test_store_pharmacists_do_not_review(client, world: World) -> None:
    prescription_id = await signed(client, world)
    response = await client.post(
        f"{URL}/{prescription_id}/approve", headers=world.as_("pharmacist")
    )
    assert response.status_code == 404


async def test_patients_do_not_see_drafts(client, world: World) -> None:
    draft = await ok(await client.post(URL, json=rx_body(world), headers=world.as_("doctor")), 201)
    response = await client.get(f"{URL}/{draft['id']}", headers=world.as_("patient"))
    assert response.status_code == 404


async def test_revoking_an_ordered_prescription_cancels_its_order(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    stock = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    assert stock is not None
    await db_session.refresh(stock)
    assert stock.quantity == 49
    revoked = await ok(
        await client.post(
            f"{URL}/{order['prescription_id']}/revoke",
            json={"reason": "患者住院"},
            headers=world.as_("doctor"),
        )
    )
    assert revoked["status"] == "revoked"
    cancelled = await ok(
        await client.get(f"/api/v1/orders/{order['id']}", headers=world.as_("patient"))
    )
    assert cancelled["status"] == "cancelled"
    await db_session.refresh(stock)
    assert stock.quantity == 50


async def test_revoking_after_dispensing_is_refused(client, world: World, db_session) -> None:
    order = await ordered(client, world)
    await picked(client, world, order)
    before = await _status(db_session, order["prescription_id"])
    response = await client.post(
        f"{URL}/{order['prescription_id']}/revoke",
        json={"reason": "太晚了"},
        headers=world.as_("doctor"),
    )
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    assert await _status(db_session, order["prescription_id"]) == before == ("dispensed", 5)


async def test_a_long_prescription_for_a_stable_patient_and_its_renewal(
    client, world: World
) -> None:
    # Stable: a first prescription for the disease has been dispensed.
    first = await ordered(client, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
    await picked(client, world, first)
    long_body = rx_body(world, item(world.drugs.metformin, "1", "bid", 84), is_long=True)
    long_order = await ordered(client, world, long_body)
    assert long_order["lines"][0]["packs"] == 9  # 168 tablets, 20 a pack
    await picked(client, world, long_order)
    renewal = await ok(
        await client.post(
            f"{URL}/{long_order['prescription_id']}/renewals", json={}, headers=world.as_("doctor")
        ),
        201,
    )
    assert renewal["renewal_of_id"] == long_order["prescription_id"]
    assert renewal["is_long"] and renewal["days_supply"] == 84 and renewal["status"] == "draft"
    # The renewal is signed on the doctor's phone like any draft, and seals its reference.
    sealed = await ok(
        await doctor_phone.sign(client, renewal["id"], world.as_("doctor"), world.phone)
    )
    assert sealed["status"] == "pending_review"
    content = json.loads(sealed["signature"]["signed_content"])
    assert content["renewal_of_id"] == long_order["prescription_id"]


async def test_long_prescriptions_stop_at_84_days(client, world: World) -> None:
    first = await ordered(client, world)
    await picked(client, world, first)
    body = rx_body(world, item(world.drugs.acarbose, "1", "tid", 85), is_long=True)
    response = await client.post(URL, json=body, headers=world.as_("doctor"))
    assert response.status_code == 409 and response.json()["code"] == "days_supply_exceeds_long"


async def test_only_a_long_prescription_can_be_renewed(client, world: World) -> None:
    order = await ordered(client, world)
    await picked(client, world, order)
    response = await client.post(
        f"{URL}/{order['prescription_id']}/renewals", json={}, headers=world.as_("doctor")
    )
    assert response.json()["code"] == "renewal_requires_long_prescription"


# --- every action from every state -------------------------------------------------------

Setup = Callable[..., Awaitable[str]]


async def _draft(client, world: World) -> str:
    created = await ok(
        await client.post(URL, json=rx_body(world), headers=world.as_("doctor")), 201
    )
    return str(created["id"])


async def _rejected(client, world: World) -> str:
    prescription_id = await signed(client, world)
    await ok(
        await client.post(
            f"{URL}/{prescription_id}/reject", json={"reason": "x"}, headers=world.as_("reviewer")
        )
    )
    return prescription_id


async def _ordered(client, world: World) -> str:
    return str((await ordered(client, world))["prescription_id"])


async def _dispensed(client, world: World) -> str:
    order = await ordered(client, world)
    await picked(client, world, order)
    return str(order["prescription_id"])


async def _revoked(client, world: World) -> str:
    prescription_id = await _draft(client, world)
    await ok(
        await client.post(
            f"{URL}/{prescription_id}/revoke", json={"reason": "x"}, headers=world.as_("doctor")
        )
    )
    return prescription_id


async def _signature(
    client, world: World, prescription_id: str, source: RxStatus
) -> dict[str, str]:
    """The phone's signature over the draft's payload; from any other state (which has no
    payload) well-formed signed bytes, so only the state machine can refuse it."""
    if source == RxStatus.draft:
        payload = await doctor_phone.payload(client, prescription_id, world.as_("doctor"))
        content = payload["signed_content"]
    else:
        content = '{"key_id":"00000000-0000-0000-0000-000000000000"}'
    return {"signed_content": content, "signature": world.phone.sign(content)}


SETUPS: dict[RxStatus, Setup] = {
    RxStatus.draft: _draft,
    RxStatus.pending_review: signed,
    RxStatus.rejected: _rejected,
    RxStatus.approved: approved,
    RxStatus.ordered: _ordered,
    RxStatus.dispensed: _dispensed,
    RxStatus.revoked: _revoked,
}
# action -> (who, target state, body)
ACTIONS: dict[str, tuple[str, RxStatus, dict | None]] = {
    "sign": ("doctor", RxStatus.pending_review, None),
    "approve": ("reviewer", RxStatus.approved, None),
    "reject": ("reviewer", RxStatus.rejected, {"reason": "请复核"}),
    "revise": ("doctor", RxStatus.draft, {"items": []}),
    "revoke": ("doctor", RxStatus.revoked, {"reason": "停药"}),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("source", list(SETUPS), ids=str)
async def test_every_action_from_every_state(
    client, world: World, db_session, source: RxStatus, action: str
) -> None:
    prescription_id = await SETUPS[source](client, world)
    who, target, body = ACTIONS[action]
    if action == "revise":
        body = {"items": [item(world.drugs.metformin, "1", "qd", 7)]}
    if action == "sign":
        body = await _signature(client, world, prescription_id, source)
    before = await _status(db_session, prescription_id)
    assert before[0] == source
    response = await client.post(
        f"{URL}/{prescription_id}/{action}", json=body, headers=world.as_(who)
    )
    if source == RxStatus.draft and who == "reviewer":
        # A draft is not the reviewer's to see yet: not found, and unchanged.
        assert response.status_code == 404
        assert await _status(db_session, prescription_id) == before
    elif PRESCRIPTION_MACHINE.allows(source, target):
        assert response.status_code == 200, response.text
        assert (await _status(db_session, prescription_id))[0] == target
    else:
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "illegal_transition"
        assert await _status(db_session, prescription_id) == before


@given(st.lists(st.sampled_from(list(RxStatus)), max_size=40))
def test_random_move_sequences_never_reach_an_undeclared_state(targets: list[RxStatus]) -> None:
    state = PRESCRIPTION_MACHINE.initial
    reachable = PRESCRIPTION_MACHINE.reachable()
    for target in targets:
        if PRESCRIPTION_MACHINE.allows(state, target):
            PRESCRIPTION_MACHINE.check(state, target)
            state = target
        else:
            with pytest.raises(Conflict):
                PRESCRIPTION_MACHINE.check(state, target)
        assert state in reachable
    if PRESCRIPTION_MACHINE.is_terminal(state):
        assert state in (RxStatus.dispensed, RxStatus.revoked)


def test_every_state_is_reachable_and_only_dispensed_and_revoked_are_final() -> None:
    assert PRESCRIPTION_MACHINE.reachable() == set(RxStatus)
    finals = {s for s in RxStatus if PRESCRIPTION_MACHINE.is_terminal(s)}
    assert finals == {RxStatus.dispensed, RxStatus.revoked}
