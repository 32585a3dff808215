"""The pharmacy dashboard in a real browser (Debian's headless Chromium driven by Playwright):
sign in, accept, pick with traceability codes, dispatch, and see the courier's position arrive
without reloading the page."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures import factories
from tests.pharmacy.live import Live, live_service, place_order
from tests.prescription.world import ok, trace_code

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOT = Path(os.environ.get("DASHBOARD_SCREENSHOT", "var/dashboard.png"))

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)


@pytest.fixture
async def served() -> AsyncIterator[Live]:
    async with live_service(outbox_relay_enabled=False) as live:
        yield live


async def test_accept_pick_dispatch_and_watch_the_courier_live(served: Live) -> None:
    world = served.world
    order = await place_order(served, "browser-order-1")
    order_id = order["id"]
    drug_id = order["lines"][0]["drug_id"]
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1500, "height": 900}, locale="zh-CN")
            # The page runs under its Content-Security-Policy: anything it blocks is a failure.
            blocked: list[str] = []
            page.on(
                "console",
                lambda message: (
                    blocked.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )
            loaded = await page.goto(f"{served.base}/dashboard")
            assert loaded is not None
            assert "frame-ancestors 'none'" in loaded.headers["content-security-policy"]
            await page.fill("input[name=username]", world.pharmacist_account.username or "")
            await page.fill("input[name=password]", factories.PASSWORD)
            await page.click("button[type=submit]")
            board = page.get_by_test_id("board")
            await playwright_api.expect(board).to_be_visible()
            await playwright_api.expect(page.get_by_test_id("live-indicator")).to_have_text(
                "实时更新中"
            )
            card = page.get_by_test_id(f"order-{order_id}")
            await playwright_api.expect(card).to_have_attribute("data-status", "created")

            await page.get_by_test_id(f"accept-{order_id}").click()
            await playwright_api.expect(card).to_have_attribute("data-status", "accepted")
            await page.get_by_test_id(f"codes-{order_id}-{drug_id}").fill(trace_code())
            await page.get_by_test_id(f"scan-{order_id}").click()
            await playwright_api.expect(card).to_contain_text("已扫 1")
            await page.get_by_test_id(f"pick-{order_id}").click()
            await playwright_api.expect(card).to_have_attribute("data-status", "picked")
            await page.get_by_test_id(f"courier-{order_id}").select_option(
                str(world.courier_account.id)
            )
            await page.get_by_test_id(f"dispatch-{order_id}").click()
            await playwright_api.expect(card).to_have_attribute("data-status", "dispatched")

            # The courier's phone reports a position; the board shows it without a reload.
            navigations: list[str] = []
            page.on("framenavigated", lambda frame: navigations.append(frame.url))
            await ok(
                await served.http.post(
                    f"/api/v1/orders/{order_id}/location",
                    json={"lat": 37.8712, "lng": 113.5634},
                    headers={**world.as_("courier"), "Idempotency-Key": "browser-pos-1"},
                )
            )
            tracking = page.get_by_test_id(f"tracking-{order_id}")
            await playwright_api.expect(tracking).to_contain_text("37.8712, 113.5634")
            await playwright_api.expect(tracking).to_contain_text(
                re.compile(r"预计送达 \d{2}:\d{2}")
            )
            assert navigations == []
            assert blocked == []
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            await browser.close()
