"""The doubt flag has teeth: a flagged settlement is held out of the payable until the bureau
reviews it; confirmed, the next statement pays it; rejected, it is reversed and never paid (or
recovered by the next statement when it had been paid). JSON, CSV and reconciliation show it."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from app.kit.clock import frozen_at
from app.models import InsuranceQuotaDisease, Role, Settlement
from tests.fixtures import factories
from tests.insurance import world as w
from tests.insurance.months import (
    APRIL,
    APRIL_2,
    APRIL_10,
    JUNE_2,
    MARCH,
    MARCH_10,
    MAY,
    MAY_2,
    Office,
    office,
    payable,
)

SETTLEMENTS = "/api/v1/insurance/settlements"


async def _flag(o: Office, at, row: Settlement, who=None, reason: str = "剂量与处方不符") -> Any:
    response = await o.call(
        at, "POST", f"{SETTLEMENTS}/{row.id}/flags", who=who, json={"reason": reason}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _review(o: Office, at, row: Settlement, decision: str, note: str = "已核实") -> Any:
    return await o.call(
        at, "POST", f"{SETTLEMENTS}/{row.id}/review", json={"decision": decision, "note": note}
    )


async def _family_doctor(o: Office):
    account = await factories.account(o.session, Role.doctor)
    with frozen_at(datetime(w.YEAR, 1, 5, tzinfo=UTC)):  # in their care since January
        await factories.care(o.session, o.patient, await factories.doctor_of(o.session, account))
    return account


async def test_a_family_doctors_doubt_holds_the_settlement_out_of_the_payable(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    kept = await o.settle(MARCH_10)
    doubted = await o.settle(MARCH_10, quantity=30)
    doctor = await _family_doctor(o)
    flag = await _flag(o, MARCH_10, doubted, who=doctor, reason="用量异常，存疑")
    assert flag["status"] == "open"
    statement = await o.statement(APRIL_2, MARCH)
    assert statement["fund_fen"] == kept.fund_fen + doubted.fund_fen
    assert statement["held_fen"] == payable(doubted)
    assert statement["payable_fen"] == payable(kept)
    detail = await o.detail(APRIL_2, statement)
    [disputed] = detail["disputed"]
    assert (disputed["settlement_id"], disputed["amount_fen"], disputed["dispute"]) == (
        str(doubted.id),
        payable(doubted),
        "open",
    )
    assert [f["reason"] for f in disputed["flags"]] == ["用量异常，存疑"]
    lines = {line["id"]: line for line in detail["lines"]}
    assert lines[str(doubted.id)]["held"] and lines[str(doubted.id)]["payable_fen"] == 0
    assert lines[str(kept.id)]["payable_fen"] == payable(kept)


async def test_the_csv_marks_the_disputed_line_and_its_payable_column_sums_to_the_payable(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    await o.settle(MARCH_10)
    doubted = await o.settle(MARCH_10, quantity=30)
    await _flag(o, MARCH_10, doubted)
    statement = await o.statement(APRIL_2, MARCH)
    exported = await o.call(
        APRIL_2, "GET", f"/api/v1/insurance/statements/{statement['id']}/export.csv"
    )
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    lines, total = rows[:-1], rows[-1]
    assert [r["review"] for r in lines if r["settlement_id"] == str(doubted.id)] == ["disputed"]
    assert sum(int(r["payable_fen"]) for r in lines) == statement["payable_fen"]
    assert int(total["payable_fen"]) == statement["payable_fen"]
    assert f"held {payable(doubted)}" in total["review"]


async def test_a_confirmed_doubt_is_paid_with_the_next_statement(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    await _flag(o, MARCH_10, doubted)
    march = await o.statement(APRIL_2, MARCH)
    assert march["payable_fen"] == 0
    review = await _review(o, APRIL_10, doubted, "confirmed")
    assert review.status_code == 200 and review.json()["reversal_id"] is None
    april = await o.statement(MAY_2, APRIL)
    assert (april["released_fen"], april["payable_fen"]) == (payable(doubted), payable(doubted))
    [released] = (await o.detail(MAY_2, april))["released"]
    assert (released["settlement_id"], released["held_in_month"]) == (str(doubted.id), MARCH)
    # The March statement now shows where its disputed line was paid.
    [disputed] = (await o.detail(MAY_2, march))["disputed"]
    assert (disputed["dispute"], disputed["released_into_statement_id"]) == (
        "confirmed",
        april["id"],
    )
    for statement in (march, april):
        await o.confirm(MAY_2, statement)
        assert (await o.pay(MAY_2, statement)).status_code == 200
        report = await o.reconcile(MAY_2, statement)
        assert {d["kind"] for d in report["differences"]} <= {"personal_share_unpaid"}
        assert report["remitted_fen"] == statement["payable_fen"]


async def test_the_reconciliation_shows_the_held_line_and_where_it_was_paid(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    kept = await o.settle(MARCH_10)
    doubted = await o.settle(MARCH_10, quantity=30)
    await _flag(o, MARCH_10, doubted, reason="用量异常，存疑")
    march = await o.confirm(APRIL_2, await o.statement(APRIL_2, MARCH))
    assert (await o.pay(APRIL_2, march)).status_code == 200
    held = await o.reconcile(APRIL_2, march)
    assert (held["held_fen"], held["payable_fen"], held["remitted_fen"]) == (
        payable(doubted),
        payable(kept),
        payable(kept),
    )
    [disputed] = held["disputed"]
    assert (disputed["settlement_id"], disputed["amount_fen"], disputed["dispute"]) == (
        str(doubted.id),
        payable(doubted),
        "open",
    )
    assert [f["reason"] for f in disputed["flags"]] == ["用量异常，存疑"]
    assert {d["kind"] for d in held["differences"]} <= {"personal_share_unpaid"}
    assert (await _review(o, APRIL_10, doubted, "confirmed")).status_code == 200
    april = await o.statement(MAY_2, APRIL)
    released = await o.reconcile(MAY_2, april)
    assert released["released_fen"] == payable(doubted) == released["payable_fen"]
    assert [r["settlement_id"] for r in released["released"]] == [str(doubted.id)]
    [confirmed] = (await o.reconcile(MAY_2, march))["disputed"]
    assert (confirmed["dispute"], confirmed["released_into_statement_id"]) == (
        "confirmed",
        april["id"],
    )


async def test_a_rejected_doubt_is_reversed_and_never_paid(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    await _flag(o, MARCH_10, doubted)
    march = await o.statement(APRIL_2, MARCH)
    review = await _review(o, APRIL_10, doubted, "rejected", "超说明书用药")
    assert review.status_code == 200
    reversal = await db_session.get(Settlement, uuid.UUID(review.json()["reversal_id"]))
    assert reversal.reverses_id == doubted.id and "超说明书用药" in reversal.reason
    usage = await db_session.get(InsuranceQuotaDisease, (o.patient.id, w.YEAR, o.world.disease.id))
    await db_session.refresh(usage)
    assert usage.limit_used_fen == 0  # the annual limit is restored
    april = await o.statement(MAY_2, APRIL)
    # The reversal undoes a settlement that was never paid: it recovers nothing either.
    assert april["fund_fen"] == -doubted.fund_fen
    assert (april["held_fen"], april["payable_fen"]) == (-payable(doubted), 0)
    [disputed] = (await o.detail(MAY_2, april))["disputed"]
    assert (disputed["settlement_id"], disputed["dispute"]) == (str(reversal.id), "rejected")
    assert march["payable_fen"] == 0


async def test_a_doubt_raised_after_payment_and_rejected_is_recovered_next_month(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    paid = await o.settle(MARCH_10)
    march = await o.confirm(APRIL_2, await o.statement(APRIL_2, MARCH))
    assert (await o.pay(APRIL_2, march)).status_code == 200
    await o.settle(APRIL_10, quantity=40)  # April has more than enough to pay it back
    await _flag(o, APRIL_10, paid)
    assert (await _review(o, APRIL_10, paid, "rejected")).status_code == 200
    april = await o.statement(MAY_2, APRIL)
    april_settled = april["fund_fen"] + april["account_fen"] + payable(paid)
    assert april["held_fen"] == 0
    assert april["payable_fen"] == april_settled - payable(paid)
    line = next(
        line for line in (await o.detail(MAY_2, april))["lines"] if line["kind"] == "reversal"
    )
    assert line["payable_fen"] == -payable(paid) and line["flags"][0]["status"] == "rejected"


async def test_a_late_reversal_of_a_held_settlement_stays_held_until_the_review(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    await _flag(o, MARCH_10, doubted)
    await o.statement(APRIL_2, MARCH)
    await o.reverse(APRIL_10, doubted)  # the parcel came back after all
    april = await o.statement(MAY_2, APRIL)
    assert (april["held_fen"], april["payable_fen"]) == (-payable(doubted), 0)
    assert (await _review(o, MAY_2, doubted, "confirmed")).status_code == 200
    may = await o.statement(JUNE_2, MAY)
    # Both the settlement and its reversal are released: together they pay nothing.
    assert len((await o.detail(JUNE_2, may))["released"]) == 2
    assert (may["released_fen"], may["payable_fen"]) == (0, 0)


async def test_reviewing_twice_the_same_way_returns_the_review_and_another_way_is_409(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    await _flag(o, MARCH_10, doubted)
    first = await _review(o, APRIL_2, doubted, "confirmed")
    again = await _review(o, APRIL_2, doubted, "confirmed")
    other = await _review(o, APRIL_2, doubted, "rejected")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert other.status_code == 409 and other.json()["code"] == "flag_review_decided"
    reversals = await db_session.scalar(
        select(func.count()).select_from(Settlement).where(Settlement.reverses_id == doubted.id)
    )
    assert reversals == 0


async def test_an_unflagged_settlement_cannot_be_reviewed(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    row = await o.settle(MARCH_10)
    response = await _review(o, APRIL_2, row, "rejected")
    assert response.status_code == 409 and response.json()["code"] == "settlement_not_flagged"


async def test_a_reversal_cannot_be_flagged(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    reversal = await o.reverse(MARCH_10, await o.settle(MARCH_10))
    response = await o.call(
        MARCH_10, "POST", f"{SETTLEMENTS}/{reversal.id}/flags", json={"reason": "存疑"}
    )
    assert response.status_code == 409 and response.json()["code"] == "flag_on_reversal"


async def test_only_the_bureau_reviews_flags(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    doctor = await _family_doctor(o)
    await _flag(o, MARCH_10, doubted, who=doctor)
    for role in (Role.doctor, Role.patient, Role.pharmacist, Role.courier, Role.admin):
        who = doctor if role == Role.doctor else await factories.account(db_session, role)
        response = await o.call(
            APRIL_2,
            "POST",
            f"{SETTLEMENTS}/{doubted.id}/review",
            who=who,
            json={"decision": "rejected", "note": "自己审自己"},
        )
        assert response.status_code in (403, 404), (role, response.text)
    flags = (await o.call(APRIL_2, "GET", "/api/v1/insurance/flags")).json()["items"]
    assert [f["flag"]["status"] for f in flags if f["settlement"]["id"] == str(doubted.id)] == [
        "open"
    ]


async def test_the_bureaus_flag_list_shows_the_review(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    doubted = await o.settle(MARCH_10)
    await _flag(o, MARCH_10, doubted)
    await _review(o, APRIL_2, doubted, "rejected", "重复收费")
    flags = (await o.call(APRIL_2, "GET", "/api/v1/insurance/flags")).json()["items"]
    [mine] = [f["flag"] for f in flags if f["settlement"]["id"] == str(doubted.id)]
    assert (mine["status"], mine["review"]["note"]) == ("rejected", "重复收费")
