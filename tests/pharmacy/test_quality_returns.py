"""After-sale quality returns (药品质量问题): opened by the patient or the store on a handed-over
order, decided by the store's pharmacist, the boxes checked back in by code, then the
settlement reversed (quota restored) and what the patient paid refunded. Each step is taken by
one role only, and every illegal step is a 409 problem that changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import (
    InsuranceQuota,
    InsuranceQuotaDisease,
    OrderTransition,
    PaymentRefund,
    PharmacyStock,
    QualityReturn,
    QualityReturnTransition,
    Role,
    Settlement,
)
from tests.delivery.flows import ORDERS, completed, delivered
from tests.fixtures import factories
from tests.prescription.world import (
    World,
    dispatched,
    item,
    ok,
    ordered,
    rx_body,
    store_staff,
    trace_code,
)

RETURNS = "/api/v1/quality-returns"
REASON = "药盒内铝箔破损，药片受潮变色"


async def _completed_order(client, world: World, packs: str = "1") -> dict:
    order = await ordered(client, world, rx_body(world, item(world.drugs.metformin, packs, "bid")))
    return await completed(client, world, order)


async def _open(client, world: World, order: dict, who: str = "patient", **headers: str) -> dict:
    return await ok(
        await client.post(
            f"{ORDERS}/{order['id']}/quality-returns",
            json={"reason": REASON},
            headers={**world.as_(who), **headers},
        ),
        201,
    )


async def _settlement(db_session, order_id: str, kind: str = "settlement") -> Settlement | None:
    return await db_session.scalar(
        select(Settlement).where(
            Settlement.order_id == uuid.UUID(order_id), Settlement.kind == kind
        )
    )


async def _pay_cash(client, world: World, db_session, order: dict) -> int:
    settled = await _settlement(db_session, order["id"])
    assert settled is not None
    await ok(
        await client.post(
            f"/api/v1/payments/settlements/{settled.id}/hand-over",
            json={
                "method": "cash",
                "amount_fen": settled.personal_fen,
                "collection_id": str(uuid.uuid4()),
            },
            headers=world.as_("courier"),
        ),
        201,
    )
    return settled.personal_fen


async def test_a_quality_return_brings_the_boxes_back_and_reverses_the_sale(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world, rx_body(world, item(world.drugs.metformin, "2", "bid")))
    await delivered(client, world, order)
    paid = await _pay_cash(client, world, db_session, order)
    await ok(await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_("courier")))
    opened = await _open(client, world, order)
    assert opened["status"] == "requested" and opened["opened_by_role"] == "patient"
    assert len(opened["codes_sold"]) == 2 and opened["codes_returned"] == []
    url, staff = f"{RETURNS}/{opened['id']}", world.as_("pharmacist")
    await ok(await client.post(f"{url}/accept", json={"note": "请携带原包装到店"}, headers=staff))
    first, second = opened["codes_sold"]
    stranger = trace_code()
    checked = await ok(
        await client.post(f"{url}/boxes", json={"codes": [first, stranger]}, headers=staff)
    )
    assert [(i["code"], i["outcome"], i["reason"]) for i in checked["items"]] == [
        (first, "accepted", None), (stranger, "rejected", "code_not_in_order"),
    ]  # fmt: skip
    assert not checked["complete"]
    early = await client.post(f"{url}/complete", headers=staff)
    assert early.status_code == 409 and early.json()["code"] == "quality_return_boxes_missing"
    again = await ok(
        await client.post(f"{url}/boxes", json={"codes": [first, second]}, headers=staff)
    )
    assert [i["outcome"] for i in again["items"]] == ["duplicate", "accepted"]
    assert again["complete"]
    done = await ok(await client.post(f"{url}/complete", headers=staff))
    assert done["status"] == "completed"
    settled = await _settlement(db_session, order["id"])
    reversal = await _settlement(db_session, order["id"], "reversal")
    assert settled is not None and reversal is not None
    assert done["reversal"]["settlement_id"] == str(reversal.id)
    assert settled.total_fen + reversal.total_fen == 0 and settled.fund_fen + reversal.fund_fen == 0
    # Quota restored: the year's limit and deductible are as if nothing had been sold.
    used = await db_session.scalar(
        select(InsuranceQuotaDisease.limit_used_fen).where(
            InsuranceQuotaDisease.patient_id == world.patient.id
        )
    )
    met = await db_session.scalar(
        select(InsuranceQuota.deductible_met_fen).where(
            InsuranceQuota.patient_id == world.patient.id
        )
    )
    assert (used, met) == (0, 0)
    # The cash is refunded through the payment refund path (its status is the refund's own).
    refunds = (
        await db_session.scalars(
            select(PaymentRefund).where(PaymentRefund.reversal_id == reversal.id)
        )
    ).all()
    assert sum(r.amount_fen for r in refunds) == paid
    assert [r["amount_fen"] for r in done["refunds"]] == [r.amount_fen for r in refunds]
    # The boxes came back with a quality problem: they stay sold and never go back on sale.
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=staff))
    assert sorted(view["traceability_codes"]) == sorted([first, second])
    events = [(e["code"], e["event"]) for e in view["traceability_history"]]
    assert (first, "returned") in events and (second, "returned") in events
    stock = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    await db_session.refresh(stock)
    assert stock.quantity == 50 - 2
    steps = [(h["to_status"], h["actor_role"]) for h in done["history"]]
    assert steps == [
        ("requested", "patient"), ("accepted", "pharmacist"), ("completed", "pharmacist"),
    ]  # fmt: skip


async def test_the_store_may_open_a_return_for_the_patient(client, world: World) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order, "pharmacist")
    assert opened["opened_by_role"] == "pharmacist"
    mine = await ok(await client.get(RETURNS, headers=world.as_("patient")))
    assert [r["id"] for r in mine["items"]] == [opened["id"]]


async def test_a_delivered_order_may_be_returned_before_it_is_completed(
    client, world: World
) -> None:
    order = await ordered(client, world)
    await delivered(client, world, order)
    assert (await _open(client, world, order))["status"] == "requested"


@pytest.mark.parametrize("stage", ["created", "dispatched", "cancelled"])
async def test_only_a_handed_over_order_may_be_returned(
    client, world: World, db_session, stage: str
) -> None:
    order = await ordered(client, world)
    if stage == "dispatched":
        await dispatched(client, world, order)
    if stage == "cancelled":
        await ok(
            await client.post(
                f"{ORDERS}/{order['id']}/cancel", json={"reason": "x"}, headers=world.as_("patient")
            )
        )
    response = await client.post(
        f"{ORDERS}/{order['id']}/quality-returns",
        json={"reason": REASON},
        headers=world.as_("patient"),
    )
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "quality_return_not_handed_over"
    assert (await db_session.scalars(select(QualityReturn))).all() == []


async def test_returns_close_after_the_window(client, world: World, db_session) -> None:
    order = await _completed_order(client, world)
    days = world.settings.quality_return_window_days
    handed_over = await db_session.scalar(
        select(OrderTransition).where(
            OrderTransition.order_id == uuid.UUID(order["id"]),
            OrderTransition.to_status == "delivered",
        )
    )
    handed_over.at -= timedelta(days=days, minutes=1)
    await db_session.flush()
    response = await client.post(
        f"{ORDERS}/{order['id']}/quality-returns",
        json={"reason": REASON},
        headers=world.as_("patient"),
    )
    assert response.status_code == 409 and response.json()["code"] == "quality_return_window_closed"


async def test_one_return_at_a_time_and_none_after_one_completed(client, world: World) -> None:
    order = await _completed_order(client, world)
    first = await _open(client, world, order)
    second = await client.post(
        f"{ORDERS}/{order['id']}/quality-returns",
        json={"reason": REASON},
        headers=world.as_("pharmacist"),
    )
    assert second.status_code == 409 and second.json()["code"] == "quality_return_exists"
    staff = world.as_("pharmacist")
    await ok(
        await client.post(
            f"{RETURNS}/{first['id']}/reject", json={"reason": "非质量问题"}, headers=staff
        )
    )
    # Refused: the patient may ask again; once one completes, the order is done for good.
    retry = await _open(client, world, order)
    url = f"{RETURNS}/{retry['id']}"
    await ok(await client.post(f"{url}/accept", headers=staff))
    await ok(await client.post(f"{url}/boxes", json={"codes": retry["codes_sold"]}, headers=staff))
    await ok(await client.post(f"{url}/complete", headers=staff))
    after = await client.post(
        f"{ORDERS}/{order['id']}/quality-returns",
        json={"reason": REASON},
        headers=world.as_("patient"),
    )
    assert after.status_code == 409 and after.json()["code"] == "quality_return_exists"


async def test_an_open_retried_with_its_key_returns_the_first_return(
    client, world: World, db_session
) -> None:
    order = await _completed_order(client, world)
    first = await _open(client, world, order, **{"Idempotency-Key": "qr-1"})
    again = await _open(client, world, order, **{"Idempotency-Key": "qr-1"})
    assert again["id"] == first["id"]
    assert len((await db_session.scalars(select(QualityReturn))).all()) == 1


async def test_a_retried_step_with_its_key_changes_nothing(
    client, world: World, db_session
) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    headers = {**world.as_("pharmacist"), "Idempotency-Key": "accept-qr"}
    url = f"{RETURNS}/{opened['id']}/accept"
    await ok(await client.post(url, headers=headers))
    again = await ok(await client.post(url, headers=headers))
    assert again["status"] == "accepted" and len(again["history"]) == 2
    refused = await client.post(url, headers=world.as_("pharmacist"))
    assert refused.status_code == 409 and refused.json()["code"] == "illegal_transition"


async def test_once_boxes_are_back_the_return_can_only_complete(client, world: World) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    url, staff = f"{RETURNS}/{opened['id']}", world.as_("pharmacist")
    await ok(await client.post(f"{url}/accept", headers=staff))
    await ok(
        await client.post(f"{url}/boxes", json={"codes": opened["codes_sold"][:1]}, headers=staff)
    )
    for step, who, body in (
        ("withdraw", "patient", None), ("reject", "pharmacist", {"reason": "x"}),
    ):  # fmt: skip
        response = await client.post(f"{url}/{step}", json=body, headers=world.as_(who))
        assert response.status_code == 409
        assert response.json()["code"] == "quality_return_boxes_received"
    view = await ok(await client.get(url, headers=world.as_("patient")))
    assert view["status"] == "accepted"


# --- who may do what ----------------------------------------------------------------------

STEPS: dict[str, dict | None] = {
    "accept": None,
    "reject": {"reason": "x"},
    "withdraw": None,
    "boxes": {"codes": ["0" * 20]},
    "complete": None,
}
ALLOWED = {
    "accept": "pharmacist",
    "reject": "pharmacist",
    "withdraw": "patient",
    "boxes": "pharmacist",
    "complete": "pharmacist",
}


@pytest.mark.parametrize("who", ["patient", "pharmacist", "courier", "doctor", "reviewer"])
async def test_each_step_is_denied_to_every_other_role(
    client, world: World, db_session, who: str
) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    for step in sorted(step for step, allowed in ALLOWED.items() if allowed != who):
        response = await client.post(
            f"{RETURNS}/{opened['id']}/{step}", json=STEPS[step], headers=world.as_(who)
        )
        # The hospital's reviewing pharmacist passes the role guard of a pharmacist's step
        # but has no store: the return is not theirs to see.
        expected = 404 if who == "reviewer" and ALLOWED[step] == "pharmacist" else 403
        assert response.status_code == expected, (step, response.text)
    row = await db_session.get(QualityReturn, uuid.UUID(opened["id"]))
    await db_session.refresh(row)
    assert row.status == "requested"
    assert (await ok(await client.get(f"{RETURNS}/{opened['id']}", headers=world.as_("patient"))))[
        "codes_returned"
    ] == []


@pytest.mark.parametrize("who", ["courier", "doctor"])
async def test_opening_is_denied_to_couriers_and_doctors(client, world: World, who: str) -> None:
    order = await _completed_order(client, world)
    response = await client.post(
        f"{ORDERS}/{order['id']}/quality-returns",
        json={"reason": REASON},
        headers=world.as_(who),
    )
    assert response.status_code == 403


async def test_someone_elses_return_is_not_found(
    client, world: World, db_session, settings
) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    other_store = await factories.store(db_session)
    their_pharmacist = await store_staff(db_session, other_store, Role.pharmacist)
    other_patient = await factories.account(db_session, Role.patient)
    await factories.patient_of(db_session, other_patient)
    outsiders = [
        await factories.bearer(db_session, settings, their_pharmacist),
        await factories.bearer(db_session, settings, other_patient),
    ]
    for headers in outsiders:
        for method, path, body in (
            ("GET", f"{RETURNS}/{opened['id']}", None),
            ("POST", f"{RETURNS}/{opened['id']}/accept", None),
            ("POST", f"{RETURNS}/{opened['id']}/withdraw", None),
            ("POST", f"{ORDERS}/{order['id']}/quality-returns", {"reason": REASON}),
        ):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code in (403, 404), (path, response.text)
            if response.status_code == 403:
                # Only a role guard may answer 403; the return itself never shows.
                assert path.endswith(("/accept", "/withdraw"))
        listed = await ok(await client.get(RETURNS, headers=headers))
        assert listed["items"] == []


# --- the machine --------------------------------------------------------------------------

LEGAL = {
    "requested": {"accept", "reject", "withdraw"},
    "accepted": {"reject", "withdraw", "boxes", "complete"},
    "rejected": set(),
    "withdrawn": set(),
    "completed": set(),
}


async def _return_in(client, world: World, status: str) -> tuple[dict, dict]:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    url, staff = f"{RETURNS}/{opened['id']}", world.as_("pharmacist")
    if status in ("accepted", "completed"):
        await ok(await client.post(f"{url}/accept", headers=staff))
    if status == "completed":
        body = {"codes": opened["codes_sold"]}
        await ok(await client.post(f"{url}/boxes", json=body, headers=staff))
        await ok(await client.post(f"{url}/complete", headers=staff))
    if status == "rejected":
        await ok(await client.post(f"{url}/reject", json={"reason": "x"}, headers=staff))
    if status == "withdrawn":
        await ok(await client.post(f"{url}/withdraw", headers=world.as_("patient")))
    return order, opened


@pytest.mark.parametrize("status", sorted(LEGAL))
async def test_illegal_steps_answer_409_problems_and_change_nothing(
    client, world: World, db_session, status: str
) -> None:
    _, opened = await _return_in(client, world, status)
    return_id = uuid.UUID(opened["id"])
    history = select(func.count()).where(QualityReturnTransition.return_id == return_id)
    before = await db_session.scalar(history)
    for step in sorted(set(STEPS) - LEGAL[status]):
        body = {"codes": opened["codes_sold"]} if step == "boxes" else STEPS[step]
        response = await client.post(
            f"{RETURNS}/{opened['id']}/{step}", json=body, headers=world.as_(ALLOWED[step])
        )
        assert response.status_code == 409, (step, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        code = response.json()["code"]
        assert code == ("quality_return_not_receiving" if step == "boxes" else "illegal_transition")
    row = await db_session.get(QualityReturn, return_id)
    await db_session.refresh(row)
    assert row.status == status
    assert await db_session.scalar(history) == before


async def test_reading_a_return_is_in_the_patients_access_log(client, world: World) -> None:
    order = await _completed_order(client, world)
    opened = await _open(client, world, order)
    await ok(await client.get(RETURNS, headers=world.as_("pharmacist")))
    await ok(await client.get(f"{RETURNS}/{opened['id']}", headers=world.as_("pharmacist")))
    log = await ok(await client.get("/api/v1/patients/me/access-log", headers=world.as_("patient")))
    reads = [
        e
        for e in log["items"]
        if e["resource_type"] == "quality_return" and e["actor_role"] == "pharmacist"
    ]
    assert len(reads) == 2 and all(e["resource_id"] == opened["id"] for e in reads)
