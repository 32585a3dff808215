"""The month closes with the platform: the statement's totals per insurance type go to 3201
(the fake answers balanced or not from its own bookings), its platform settlements go as a
detail file (9101) to 3202 whose result file (9102) names the lines the platform disputes, and
each statement line is compared with the platform's settlement, differences shown."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from app.kit.clock import city_date, frozen_at
from app.kit.money import fen_to_yuan
from app.models import PlatformSettlement, Role, Settlement
from tests.fixtures import factories
from tests.insurance_platform.conftest import behave, hand_over, received
from tests.prescription.world import World, item, ok, ordered, picked, rx_body

STATEMENTS = "/api/v1/insurance/statements"


def _next_month() -> datetime:
    today = city_date()
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime(year, month, 2, 2, tzinfo=UTC)


def _split(found: dict, insurance_type: str) -> tuple[dict, dict]:
    """The reconciliation of this insurance type, and of the other one."""
    [mine] = [t for t in found["by_type"] if t["insurance_type"] == insurance_type]
    [other] = [t for t in found["by_type"] if t["insurance_type"] != insurance_type]
    return mine, other


def _zero() -> dict:
    return {"count": 0, "total_fen": 0, "fund_fen": 0, "account_fen": 0}


async def _settled(client, world: World, db_session, drug: str) -> Settlement:
    # Each order its own drug: a second prescription of one class is duplicate therapy.
    body = rx_body(world, item(getattr(world.drugs, drug)))
    order = await ordered(client, world, body, fulfilment="pickup")
    await picked(client, world, order)
    await ok(await hand_over(client, world, order))
    row = await db_session.scalar(
        select(Settlement).where(Settlement.order_id == uuid.UUID(order["id"]))
    )
    assert row is not None
    return row


async def _reconciled(
    client, db_session, settings, settlement: Settlement, action: str = "platform-reconciliation"
):
    """The statement of the settlement's month, reconciled with the platform (or `action`:
    `export.xlsx` fetches its workbook)."""
    at = _next_month()
    with frozen_at(at):
        clerk = await factories.bearer(
            db_session, settings, await factories.account(db_session, Role.bureau)
        )
        month = f"{city_date(settlement.settled_at):%Y-%m}"
        body = {"institution_id": str(settlement.institution_id), "month": month}
        statement = await ok(await client.post(STATEMENTS, json=body, headers=clerk), 201)
        url = f"{STATEMENTS}/{statement['id']}/{action}"
        if action.startswith("export"):
            return await client.get(url, headers=clerk)
        return await client.post(url, headers=clerk)


async def test_the_month_reconciles_and_each_difference_is_shown(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    # Settled before the platform was configured: here only.
    platform = platform_app.state.insurance_platform
    del platform_app.state.insurance_platform
    local_only = await _settled(client, world, db_session, "metformin")
    platform_app.state.insurance_platform = platform
    await behave(platform_http, fund_delta_fen=250)
    differing = await _settled(client, world, db_session, "acarbose")
    await behave(platform_http)

    answer = await _reconciled(client, db_session, settings, differing)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    by_type, other = _split(found, differing.insurance_type)
    assert other["statement"] == other["platform"] == _zero()
    assert other["balanced"] is True
    rows = [local_only, differing]
    assert by_type["statement"] == {
        "count": 2,
        "total_fen": sum(r.total_fen for r in rows),
        "fund_fen": sum(r.fund_fen for r in rows),
        "account_fen": sum(r.account_fen for r in rows),
    }
    assert by_type["platform"]["count"] == 1
    # Booked as the platform settled it, 250 fen more from the fund than estimated.
    assert by_type["platform"]["fund_fen"] == differing.fund_fen
    assert by_type["balanced"] is True and by_type["platform_description"] == "对账平"
    [sent] = [m for m in await received(platform_http) if m["msgid"] == by_type["msgid"]]
    assert sent["infno"] == "3201"
    assert sent["input"]["data"]["fixmedins_setl_cnt"] == 1
    # The differing split was booked as the platform's: no difference to reconcile.
    assert {(d["settlement_id"], d["problem"]) for d in found["differences"]} == {
        (str(local_only.id), "not_on_platform"),
    }
    # 3202: the platform settlements kept here agree with the platform's, line by line.
    assert found["detail"]["balanced"] is True and found["detail"]["lines"] == []
    exchanged = await received(platform_http)
    [upload] = [m for m in exchanged if m["infno"] == "9101"]
    [detail] = [m for m in exchanged if m["infno"] == "3202"]
    assert detail["input"]["data"]["file_qury_no"] == found["detail"]["file_qury_no"]
    assert detail["input"]["data"]["fixmedins_setl_cnt"] == 1
    assert detail["input"]["data"]["fund_pay_sumamt"] == fen_to_yuan(differing.fund_fen)
    assert upload["input"]["fsUploadIn"]["filename"].endswith(".zip")
    infnos = [m["infno"] for m in exchanged]
    assert infnos[infnos.index("9101") :][:3] == ["9101", "3202", "9102"]


async def test_the_workbook_lists_the_lines_the_platform_kept_otherwise(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    platform = platform_app.state.insurance_platform
    del platform_app.state.insurance_platform
    local_only = await _settled(client, world, db_session, "metformin")
    platform_app.state.insurance_platform = platform
    differing = await _settled(client, world, db_session, "acarbose")
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == differing.id)
    )
    assert kept is not None
    # Booked here otherwise than the platform settled it (as lines booked on the estimate
    # before the platform's split was booked are).
    kept.fund_fen += 250
    await db_session.flush()

    answer = await _reconciled(client, db_session, settings, differing, "export.xlsx")
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content))["差异"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()][1:]
    platform_rows = {r[2]: r for r in rows if r[0] == "医保平台"}
    assert set(platform_rows) == {str(local_only.id), str(differing.id)}
    missing, split = platform_rows[str(local_only.id)], platform_rows[str(differing.id)]
    assert (missing[1], missing[4], missing[6], missing[7]) == ("平台无此结算", None, None, None)
    assert Decimal(str(missing[5])) * 100 == local_only.fund_fen
    assert (split[1], split[4]) == ("平台统筹基金支付不同", kept.setl_id)
    assert [Decimal(str(v)) * 100 for v in split[5:8]] == [
        differing.fund_fen,
        differing.fund_fen + 250,
        250,
    ]


async def test_the_platform_says_unbalanced_when_a_booking_is_missing_here(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    settled = await _settled(client, world, db_session, "metformin")
    await _settled(client, world, db_session, "acarbose")
    lost = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == settled.id)
    )
    assert lost is not None
    ids = (lost.setl_id, lost.fund_fen, lost.msgid)
    await db_session.delete(lost)
    await db_session.flush()
    found = (await _reconciled(client, db_session, settings, settled)).json()
    by_type, _ = _split(found, settled.insurance_type)
    assert by_type["balanced"] is False
    assert "fixmedins_setl_cnt：中心2，机构1" in by_type["platform_description"]
    assert [d["problem"] for d in found["differences"]] == ["not_on_platform"]
    # The platform's detail reconciliation names the line it has and this service lost.
    [line] = found["detail"]["lines"]
    assert found["detail"]["balanced"] is False
    assert (line["setl_id"], line["memo"], line["reversal"]) == (
        ids[0],
        "中心有，医药机构无",
        False,
    )
    assert (line["fund_fen"], line["msgid"]) == ids[1:]


async def test_the_platform_names_a_line_whose_amounts_differ(
    client, platform_app, platform_http, world: World, db_session, settings
) -> None:
    settled = await _settled(client, world, db_session, "metformin")
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == settled.id)
    )
    assert kept is not None
    platform_total = kept.total_fen
    kept.total_fen += 100  # booked here otherwise than the platform settled it
    await db_session.flush()
    found = (await _reconciled(client, db_session, settings, settled)).json()
    [line] = found["detail"]["lines"]
    assert (line["setl_id"], line["memo"]) == (kept.setl_id, "金额不一致")
    assert line["total_fen"] == platform_total


async def test_without_a_platform_there_is_nothing_to_reconcile_with(
    client, db_session, settings
) -> None:
    clerk = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    answer = await client.post(
        f"{STATEMENTS}/{uuid.uuid4()}/platform-reconciliation", headers=clerk
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "insurance_platform_not_configured"
