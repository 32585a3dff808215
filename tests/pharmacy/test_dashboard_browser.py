"""The pharmacy dashboard in a real browser (Debian's headless Chromium driven by Playwright):
sign in, accept, pick with traceability codes, dispatch, and see the courier's position arrive on
the card and the city map without reloading the page; cancel, and take back a cold-chain parcel
whose log left 2-8 C; page past the 200 newest orders to an old one still out for delivery, or
find it by search; and a courier's day on a phone-width screen. Each test writes screenshots
(DASHBOARD_SCREENSHOTS, `var/` by default) and checks what they show."""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import PharmacyOrder, Prescription
from tests.fixtures import factories
from tests.pharmacy.live import Live, live_service, place_order
from tests.prescription.world import World, dispatched, item, ok, ordered, rx_body, trace_code

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = Path(os.environ.get("DASHBOARD_SCREENSHOTS", "var"))
# The five districts of Yangquan in the bundled outlines.
DISTRICTS = {"140302", "140303", "140311", "140321", "140322"}
# Marker colours of dashboard.css: the store, a destination, a courier.
STORE_GREEN, DESTINATION_ORANGE, COURIER_BLUE = (11, 110, 79), (230, 126, 34), (24, 100, 171)
# Orders placed after the old one: more than the board's first pages and the old 200 limit.
NEWER_ORDERS = 205
# Orders per page of the board (dashboard.js).
PAGE = 50

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
expect = playwright_api.expect


@pytest.fixture
async def served() -> AsyncIterator[Live]:
    async with live_service(outbox_relay_enabled=False) as live:
        yield live


@dataclass
class Board:
    """A signed-in board page, and what its Content-Security-Policy blocked (must stay empty)."""

    page: Any
    blocked: list[str]


@asynccontextmanager
async def _board(live: Live, who: str, viewport: dict[str, int]) -> AsyncIterator[Board]:
    """The board signed in as the world's pharmacist or courier, in a fresh browser."""
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport=viewport, locale="zh-CN")
            board = Board(page, [])
            page.on(
                "console",
                lambda message: (
                    board.blocked.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            await _sign_in(page, live, who)
            yield board
        finally:
            await browser.close()


async def _sign_in(page: Any, live: Live, who: str) -> None:
    loaded = await page.goto(f"{live.base}/dashboard")
    assert loaded is not None
    assert "frame-ancestors 'none'" in loaded.headers["content-security-policy"]
    account = live.world.pharmacist_account if who == "pharmacist" else live.world.courier_account
    await page.fill("input[name=username]", account.username or "")
    await page.fill("input[name=password]", factories.PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.get_by_test_id("board")).to_be_visible()
    await expect(page.get_by_test_id("live-indicator")).to_have_text("实时更新中")
    await expect(page.get_by_test_id("store-name")).to_have_text("国康大药房（北大街店）")


async def _map_has_districts(page: Any) -> None:
    paths = page.get_by_test_id("map").locator("path.district")
    await expect(paths).to_have_count(len(DISTRICTS))
    assert {await p.get_attribute("data-adcode") for p in await paths.all()} == DISTRICTS
    await expect(page.get_by_test_id("map-store")).to_have_count(1)


def _picture(png: bytes, name: str) -> Image.Image:
    """The screenshot, saved under SCREENSHOTS, after checking it is not blank."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / name).write_bytes(png)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50, f"{name} looks blank"
    return image


async def _apart(page: Any, one: Any, other: Any) -> float:
    """Pixels between the centres of two markers."""
    a, b = await one.bounding_box(), await other.bounding_box()
    assert a is not None and b is not None
    dx = (a["x"] + a["width"] / 2) - (b["x"] + b["width"] / 2)
    dy = (a["y"] + a["height"] / 2) - (b["y"] + b["height"] / 2)
    return float((dx * dx + dy * dy) ** 0.5)


def _shows(image: Image.Image, colour: tuple[int, int, int]) -> bool:
    """Whether some pixels have `colour` (a marker's fill, give or take anti-aliasing)."""
    return any(
        all(abs(a - b) <= 6 for a, b in zip(pixel, colour, strict=True))
        for _, pixel in image.getcolors(maxcolors=1 << 20) or []
    )


async def test_accept_pick_dispatch_and_watch_the_courier_live(served: Live) -> None:
    world, http = served.world, served.http
    order = await place_order(served, "browser-order-1")
    order_id = order["id"]
    drug_id = order["lines"][0]["drug_id"]
    # A second order, to be cancelled from the board before it is picked.
    doomed = await ordered(http, world, rx_body(world, item(world.drugs.acarbose)))
    # A cold-chain parcel whose log leaves 2-8 C on the way: it comes back to the store.
    cold = await ordered(http, world, rx_body(world, item(world.drugs.glargine, "20", "qd", 7)))
    await dispatched(http, world, cold, seal_id="SEAL-7001")
    now = utcnow().replace(microsecond=0)
    readings = [
        {"measured_at": (now - timedelta(minutes=12)).isoformat(), "celsius": "5.2"},
        {"measured_at": (now - timedelta(minutes=6)).isoformat(), "celsius": "9.4"},
    ]
    await ok(
        await http.post(
            f"/api/v1/orders/{cold['id']}/temperatures",
            json={"seal_id": "SEAL-7001", "readings": readings},
            headers=world.as_("courier"),
        )
    )
    async with _board(served, "pharmacist", {"width": 1500, "height": 900}) as board:
        page = board.page
        await _map_has_districts(page)
        card = page.get_by_test_id(f"order-{order_id}")
        await expect(card).to_have_attribute("data-status", "created")
        await expect(page.get_by_test_id(f"map-destination-{order_id}")).to_have_count(1)
        await expect(page.get_by_test_id(f"collect-{order_id}")).to_contain_text(
            re.compile(r"上门收取 ¥\d+\.\d{2}")
        )

        # The cold-chain parcel: its log on the card, the alarm, and taking it back.
        cold_card = page.get_by_test_id(f"order-{cold['id']}")
        await expect(cold_card).to_have_attribute("data-status", "returning")
        await expect(page.get_by_test_id(f"cold-alarm-{cold['id']}")).to_contain_text(
            "温度超出 2-8℃"
        )
        await expect(page.get_by_test_id(f"cold-alarm-{cold['id']}")).to_contain_text("9.4℃")
        await expect(page.get_by_test_id(f"templog-{cold['id']}")).to_contain_text(
            "温度记录（2 条）"
        )
        await page.get_by_test_id(f"returned-{cold['id']}").click()
        await expect(cold_card).to_have_attribute("data-status", "returned")

        await page.get_by_test_id(f"accept-{order_id}").click()
        await expect(card).to_have_attribute("data-status", "accepted")
        await page.get_by_test_id(f"codes-{order_id}-{drug_id}").fill(trace_code())
        await page.get_by_test_id(f"scan-{order_id}").click()
        await expect(card).to_contain_text("已扫 1")
        await page.get_by_test_id(f"pick-{order_id}").click()
        await expect(card).to_have_attribute("data-status", "picked")
        await page.get_by_test_id(f"courier-{order_id}").select_option(
            str(world.courier_account.id)
        )
        await page.get_by_test_id(f"dispatch-{order_id}").click()
        await expect(card).to_have_attribute("data-status", "dispatched")

        # The courier's phone reports a position; the board shows it without a reload, while
        # the pharmacist goes on typing a cancellation in another card.
        doomed_card = page.get_by_test_id(f"order-{doomed['id']}")
        reason = page.get_by_test_id(f"cancel-reason-{doomed['id']}")
        await page.get_by_test_id(f"cancel-{doomed['id']}").click()
        await expect(doomed_card).to_have_attribute("data-status", "created")
        await reason.click()
        await page.keyboard.type("患者来电")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        await ok(
            await http.post(
                f"/api/v1/orders/{order_id}/location",
                json={"lat": 37.8712, "lng": 113.5634},
                headers={**world.as_("courier"), "Idempotency-Key": "browser-pos-1"},
            )
        )
        tracking = page.get_by_test_id(f"tracking-{order_id}")
        await expect(tracking).to_contain_text("37.8712, 113.5634")
        await expect(tracking).to_contain_text(re.compile(r"预计送达 \d{2}:\d{2}"))
        await expect(reason).to_be_focused()
        await page.keyboard.type("，改为到院取药")
        await page.get_by_test_id(f"cancel-{doomed['id']}").click()
        await expect(doomed_card).to_have_attribute("data-status", "cancelled")
        await expect(page.get_by_test_id(f"map-destination-{doomed['id']}")).to_have_count(0)
        cancelled = await ok(
            await http.get(f"/api/v1/orders/{doomed['id']}", headers=world.as_("pharmacist"))
        )
        assert cancelled["history"][-1]["note"] == "患者来电，改为到院取药"
        courier_marker = page.get_by_test_id(f"map-courier-{world.courier_account.id}")
        await expect(courier_marker).to_have_count(1)
        await expect(
            page.get_by_test_id(f"courier-out-{world.courier_account.id}")
        ).to_contain_text(re.compile(r"订单 " + order_id[:8] + r" 预计 \d{2}:\d{2} 送达"))
        assert navigations == []
        _picture(await page.screenshot(full_page=True), "dashboard-desktop.png")
        city = _picture(await page.get_by_test_id("map").screenshot(), "dashboard-map.png")
        assert _shows(city, STORE_GREEN) and _shows(city, COURIER_BLUE)
        assert _shows(city, DESTINATION_ORANGE)
        # Framing the city proper pulls the courier and the store apart.
        apart_in_city = await _apart(page, courier_marker, page.get_by_test_id("map-store"))
        await page.get_by_test_id("map-zoom-urban").click()
        await expect(page.get_by_test_id("map").locator("path.district")).to_have_count(5)
        apart_in_town = await _apart(page, courier_marker, page.get_by_test_id("map-store"))
        assert apart_in_town > 4 * apart_in_city
        town = _picture(await page.get_by_test_id("map").screenshot(), "dashboard-map-urban.png")
        assert _shows(town, STORE_GREEN) and _shows(town, COURIER_BLUE)
        assert board.blocked == []


async def _many_orders(session: AsyncSession, world: World) -> None:
    """An old order out for delivery, then NEWER_ORDERS later ones (done or cancelled), as rows:
    each on a prescription of its own, as the service makes them."""
    start = utcnow() - timedelta(days=3)
    for n in range(NEWER_ORDERS + 1):
        prescription = Prescription(
            patient_id=world.patient.id,
            doctor_id=world.doctor.id,
            institution_id=world.doctor.institution_id,
            disease_id=world.disease.id,
            entitlement_id=world.entitlement.id,
            status="dispensed",
            diagnosis_zh="2型糖尿病，复诊",
            written_on=start.date(),
            valid_days=3,
            days_supply=7,
            total_fen=1580,
        )
        session.add(prescription)
        await session.flush()
        old = n == 0
        placed = start + timedelta(minutes=n)
        session.add(
            PharmacyOrder(
                prescription_id=prescription.id,
                patient_id=world.patient.id,
                store_id=world.store.id,
                fulfilment="delivery",
                status="dispatched" if old else ("completed" if n % 3 else "cancelled"),
                total_fen=1580,
                idempotency_key=f"bulk-{n}",
                district_code=world.store.district_code,
                delivery_address=world.patient.address,
                delivery_phone=world.patient.phone,
                destination_lat=37.8571,
                destination_lng=113.5683,
                courier_account_id=world.courier_account.id if old else None,
                last_lat=37.8805 if old else None,
                last_lng=113.6012 if old else None,
                last_located_at=utcnow() if old else None,
                eta_at=utcnow() + timedelta(minutes=25) if old else None,
                created_at=placed,
                updated_at=placed,
            )
        )
    await session.flush()


@pytest.fixture
async def crowded() -> AsyncIterator[Live]:
    async with live_service(_many_orders, outbox_relay_enabled=False) as live:
        yield live


async def _old_order_id(live: Live) -> str:
    page = await ok(
        await live.http.get(
            "/api/v1/orders", params={"status": "dispatched"}, headers=live.world.as_("pharmacist")
        )
    )
    (old,) = page["items"]
    return str(old["id"])


async def test_an_order_older_than_the_200_newest_is_paged_to_and_found(crowded: Live) -> None:
    old_id = await _old_order_id(crowded)
    courier_id = crowded.world.courier_account.id
    async with _board(crowded, "pharmacist", {"width": 1500, "height": 900}) as board:
        page = board.page
        card = page.get_by_test_id(f"order-{old_id}")
        loaded = page.get_by_test_id("loaded-count")
        await expect(loaded).to_have_text(f"已加载 {PAGE} 个订单")
        await expect(card).to_have_count(0)
        # The map shows every open order, whatever the board has loaded.
        await expect(page.get_by_test_id(f"map-courier-{courier_id}")).to_have_count(1)
        await expect(page.get_by_test_id(f"map-destination-{old_id}")).to_have_count(1)
        # Scrolling to the end of the board loads the next page; so does the button.
        more = page.get_by_test_id("load-more")
        await more.scroll_into_view_if_needed()
        await expect(loaded).to_have_text(f"已加载 {2 * PAGE} 个订单")
        for pages in (3, 4):
            await more.click()
            await expect(loaded).to_have_text(f"已加载 {pages * PAGE} 个订单")
        # The 200 newest orders do not hold it; the next page does.
        await expect(card).to_have_count(0)
        await more.click()
        await expect(card).to_have_attribute("data-status", "dispatched")
        await card.scroll_into_view_if_needed()
        _picture(await page.screenshot(), "dashboard-paging.png")
        await expect(loaded).to_have_text(f"已加载 {NEWER_ORDERS + 1} 个订单（已全部加载）")
        await expect(more).to_be_hidden()

        # Searching by the id's first digits finds it alone.
        await page.get_by_test_id("filter-search").fill(old_id[:8])
        await page.get_by_test_id("filter-apply").click()
        await expect(loaded).to_have_text("已加载 1 个订单（已全部加载）")
        await expect(card).to_have_count(1)
        # So does the courier filter; a state it is not in finds nothing.
        await page.get_by_test_id("filter-reset").click()
        await expect(card).to_have_count(0)
        await page.get_by_test_id("filter-courier").select_option(str(courier_id))
        await page.get_by_test_id("filter-apply").click()
        await expect(card).to_have_count(1)
        await page.get_by_test_id("filter-status").select_option("completed")
        await page.get_by_test_id("filter-apply").click()
        await expect(loaded).to_have_text("已加载 0 个订单（已全部加载）")
        assert board.blocked == []


async def test_a_courier_works_the_board_on_a_phone(served: Live) -> None:
    world, http = served.world, served.http
    order = await dispatched(http, world, await place_order(served, "phone-order-1"))
    order_id = order["id"]
    await ok(
        await http.post(
            f"/api/v1/orders/{order_id}/location",
            json={"lat": 37.8655, "lng": 113.5712},
            headers={**world.as_("courier"), "Idempotency-Key": "phone-pos-1"},
        )
    )
    async with _board(served, "courier", {"width": 375, "height": 740}) as board:
        page = board.page
        await _map_has_districts(page)
        await expect(page.get_by_test_id(f"map-courier-{world.courier_account.id}")).to_have_count(
            1
        )
        card = page.get_by_test_id(f"order-{order_id}")
        await expect(card).to_have_attribute("data-status", "dispatched")
        # A courier does not dispatch: no courier filter for them.
        await expect(page.get_by_test_id("filter-courier")).to_be_hidden()
        collect = page.get_by_test_id(f"collect-{order_id}")
        cash = order["collect"]["cash_fen"]
        await expect(collect).to_contain_text(f"上门收取 ¥{cash // 100}.{cash % 100:02d}")
        await expect(collect).to_be_visible()
        # Nothing sticks out sideways: the page fits the phone's width.
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375
        card_box = await card.bounding_box()
        assert card_box is not None and card_box["x"] >= 0
        assert card_box["x"] + card_box["width"] <= 375
        phone = _picture(await page.screenshot(full_page=True), "dashboard-phone.png")
        assert phone.width == 375

        # The patient is not home: the courier reports it and brings the parcel back.
        await card.scroll_into_view_if_needed()
        await page.get_by_test_id(f"fail-reason-{order_id}").fill("患者不在家，电话无人接听")
        await page.get_by_test_id(f"fail-{order_id}").click()
        await expect(card).to_have_attribute("data-status", "delivery_failed")
        await page.get_by_test_id(f"return-{order_id}").click()
        await expect(card).to_have_attribute("data-status", "returning")
        # Only the store confirms it is back on the shelf.
        await expect(page.get_by_test_id(f"returned-{order_id}")).to_have_count(0)
        assert board.blocked == []
