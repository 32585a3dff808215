"""Hand-over settles on the platform (2207) before it is booked: the platform's split is
booked, the local estimate kept beside it and a difference flagged; a refusal or a timeout
fails the hand-over as a whole; a lost answer is voided by its message id and never paid twice;
a return reverses with 2208."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.insurance import flags as flag_service
from app.insurance_platform import settlement as platform_settlement
from app.kit.money import fen_to_yuan
from app.models import (
    InsuredIdentity,
    PharmacyOrder,
    PlatformMessage,
    PlatformSettlement,
    Role,
    Settlement,
    SettlementFlag,
)
from tests.fixtures import factories
from tests.insurance_platform.conftest import add_person, behave, hand_over, received
from tests.prescription.world import World, ok, ordered, picked, quality_returned

ORDERS = "/api/v1/orders"


async def _ready(client, world: World) -> dict:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    return order


async def _local(db_session, order: dict) -> list[Settlement]:
    rows = await db_session.scalars(
        select(Settlement)
        .where(Settlement.order_id == uuid.UUID(order["id"]))
        .order_by(Settlement.kind)
    )
    return list(rows.all())


async def _fake_settlements(platform_http) -> list[dict]:
    return list((await platform_http.get("/_control/settlements")).json())


async def test_hand_over_settles_on_the_platform_and_keeps_its_split(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    [local] = await _local(db_session, order)
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    [fake] = await _fake_settlements(platform_http)
    assert kept is not None and kept.kind == "settlement"
    assert (kept.setl_id, kept.msgid) == (fake["setl_id"], fake["msgid"])
    assert (kept.total_fen, kept.fund_fen) == (local.total_fen, local.fund_fen)
    assert kept.account_fen + kept.cash_fen == local.personal_fen
    assert kept.fund_difference_fen == 0
    sent = [m["infno"] for m in await received(platform_http)]
    assert sent[-5:] == ["1101", "2201", "2203", "2204", "2207"]
    settle = (await received(platform_http))[-1]["input"]["data"]
    assert (settle["med_type"], settle["medfee_sumamt"]) == ("14", fen_to_yuan(local.total_fen))


async def test_a_split_that_differs_is_booked_flagged_and_the_platform_is_the_truth(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    await behave(platform_http, fund_delta_fen=137)
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    [local] = await _local(db_session, order)
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    assert kept is not None
    # Booked as the platform settled it; the local estimate is kept beside it.
    assert kept.fund_fen == local.fund_fen
    assert kept.estimate_fund_fen == local.fund_fen - 137
    assert kept.fund_difference_fen == 137
    [fake] = await _fake_settlements(platform_http)
    assert fake["fund_fen"] == kept.fund_fen
    # The difference waits in the bureau's claim review, raised by the service itself.
    bureau = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    queue = (await ok(await client.get("/api/v1/insurance/flags", headers=bureau)))["items"]
    [raised] = [f["flag"] for f in queue if f["settlement"]["id"] == str(local.id)]
    assert (raised["role"], raised["reviewer_name"], raised["status"]) == (
        "platform",
        "医保信息平台",
        "open",
    )
    assert fen_to_yuan(kept.fund_fen) in raised["reason"]
    assert fen_to_yuan(kept.estimate_fund_fen) in raised["reason"]


async def test_a_split_that_agrees_raises_no_flag(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    [local] = await _local(db_session, order)
    flags = await db_session.scalars(
        select(SettlementFlag).where(SettlementFlag.settlement_id == local.id)
    )
    assert flags.all() == []


async def test_the_platform_flag_is_raised_once_per_settlement(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    await behave(platform_http, fund_delta_fen=50)
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    [local] = await _local(db_session, order)
    first = await flag_service.flag_platform_difference(db_session, local, "再次")
    again = await flag_service.flag_platform_difference(db_session, local, "又一次")
    assert first.id == again.id and first.reason != "再次"


async def test_a_refusal_fails_the_hand_over_as_a_whole(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await behave(platform_http, refuse_with="该人员存在未结算的门诊就诊记录")
    answer = await hand_over(client, world, order)
    assert answer.status_code == 502
    assert answer.json()["err_msg"] == "该人员存在未结算的门诊就诊记录"
    assert await _local(db_session, order) == []
    row = await db_session.get(PharmacyOrder, uuid.UUID(order["id"]))
    await db_session.refresh(row)
    assert row is not None and row.status != "delivered"


async def test_a_lost_settlement_answer_is_voided_and_never_paid_twice(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await behave(platform_http, lose_answer_of="2207")
    lost = await hand_over(client, world, order)
    assert lost.status_code == 504 and lost.json()["code"] == "insurance_platform_timeout"
    assert await _local(db_session, order) == []
    [voided] = await _fake_settlements(platform_http)
    assert voided["undone"] is True
    void = (await received(platform_http))[-1]
    assert void["infno"] == "2601" and void["input"]["data"]["omsgid"] == voided["msgid"]
    # The platform answers again: the retry settles once, on a fresh message id.
    await behave(platform_http)
    await ok(await hand_over(client, world, order))
    active = [s for s in await _fake_settlements(platform_http) if not s["undone"]]
    assert len(active) == 1 and active[0]["msgid"] != voided["msgid"]
    assert len(await _local(db_session, order)) == 1


async def test_a_settlement_the_platform_made_but_this_service_lost_is_reversed_first(
    client, platform_app, platform, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    [local] = await _local(db_session, order)
    # Pretend the platform's answer arrived but the hand-over's transaction then rolled back:
    # its 2207 is kept (audit) but nothing here books it.
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    assert kept is not None
    await db_session.delete(kept)
    await db_session.flush()
    await platform_settlement.resolve_earlier_attempts(
        db_session, platform, platform_settlement.order_subject(local)
    )
    [fake] = await _fake_settlements(platform_http)
    assert fake["undone"] is True
    reversal = (await received(platform_http))[-1]
    assert reversal["infno"] == "2208" and reversal["input"]["data"]["setl_id"] == fake["setl_id"]
    answers = await db_session.scalars(
        select(PlatformMessage).where(
            PlatformMessage.subject == fake["msgid"], PlatformMessage.direction == "answer"
        )
    )
    assert [a.infcode for a in answers] == [0]


async def test_a_completed_return_reverses_on_the_platform(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await ok(await hand_over(client, world, order))
    await quality_returned(client, world, order)
    settlement, reversal = sorted(
        await _local(db_session, order), key=lambda s: s.kind != "settlement"
    )
    rows = {
        r.kind: r
        for r in await db_session.scalars(
            select(PlatformSettlement).where(
                PlatformSettlement.settlement_id.in_([settlement.id, reversal.id])
            )
        )
    }
    assert rows["reversal"].setl_id == rows["settlement"].setl_id
    assert rows["reversal"].fund_fen == -rows["settlement"].fund_fen
    [fake] = await _fake_settlements(platform_http)
    assert fake["undone"] is True


async def test_a_person_the_platform_now_insures_otherwise_is_not_settled(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    identity = await db_session.scalar(
        select(InsuredIdentity).where(InsuredIdentity.patient_id == world.patient.id)
    )
    assert identity is not None
    other = "390" if identity.insurance_type == "310" else "310"
    order = await _ready(client, world)
    # Since verification, the platform moved the person to the other insurance.
    await add_person(platform_http, identity.national_id, other, identity.insured_area)
    answer = await hand_over(client, world, order)
    assert answer.status_code == 409
    assert answer.json()["code"] == "platform_identity_differs"
    assert await _local(db_session, order) == []
    assert await _fake_settlements(platform_http) == []


async def test_a_refused_settlement_takes_its_visit_back(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await _ready(client, world)
    await behave(platform_http, refuse_with="超出门慢待遇限额", refuse_only="2207")
    refused = await hand_over(client, world, order)
    assert refused.status_code == 502 and refused.json()["err_msg"] == "超出门慢待遇限额"
    withdraw_fees, withdraw_registration = (await received(platform_http))[-2:]
    assert withdraw_fees["infno"] == "2205" and withdraw_registration["infno"] == "2202"
    assert withdraw_fees["input"]["data"]["chrg_bchno"]
    assert (await platform_http.get("/_control/open")).json() == {
        "visits": [],
        "fee_batches": [],
    }
    await behave(platform_http)
    await ok(await hand_over(client, world, order))
    assert len(await _fake_settlements(platform_http)) == 1
