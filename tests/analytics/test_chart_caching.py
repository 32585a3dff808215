"""Chart images: ETag and If-None-Match, the in-process cache, and access before any 304."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.analytics import chart_drawing
from app.analytics.chart_cache import ChartCache
from app.kit.clock import utcnow
from tests.analytics.chart_helpers import chart_url, wearing
from tests.reading.helpers import cgm_item, doctor_for, upload, wearer

CACHE_CONTROL = "private, max-age=0, must-revalidate"


@pytest.mark.parametrize("chart", ["agp", "bp-trend"])
async def test_a_chart_carries_an_etag_and_revalidates(client, db_session, settings, chart) -> None:
    who = await wearing(client, db_session, settings)
    first = await client.get(chart_url(who, chart), headers=who.headers)
    assert first.status_code == 200 and first.content.startswith(b"\x89PNG")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 20
    assert first.headers["cache-control"] == CACHE_CONTROL
    assert "accept-language" in first.headers["vary"].lower()
    again = await client.get(chart_url(who, chart), headers={**who.headers, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == CACHE_CONTROL


async def test_if_none_match_compares_weakly_and_takes_lists_and_star(
    client, db_session, settings
) -> None:
    who = await wearing(client, db_session, settings)
    etag = (await client.get(chart_url(who), headers=who.headers)).headers["etag"]
    for sent in (f'"other", W/{etag}', "*", f' "x" ,{etag}'):
        response = await client.get(chart_url(who), headers={**who.headers, "If-None-Match": sent})
        assert response.status_code == 304, sent
    stale = await client.get(chart_url(who), headers={**who.headers, "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.headers["etag"] == etag


async def test_a_new_reading_changes_the_etag(client, db_session, settings) -> None:
    who = await wearing(client, db_session, settings)
    before = await client.get(chart_url(who), headers=who.headers)
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow() - timedelta(minutes=1), 2.5)])
    after = await client.get(
        chart_url(who), headers={**who.headers, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.content != before.content


async def test_language_period_and_format_each_make_another_image(
    client, db_session, settings
) -> None:
    who = await wearing(client, db_session, settings)

    async def get(url: str, **headers: str):
        response = await client.get(url, headers={**who.headers, **headers})
        assert response.status_code == 200
        return response

    chinese = await get(chart_url(who, "agp", "svg"))
    variants = [
        await get(chart_url(who, "agp", "svg"), **{"Accept-Language": "en"}),
        await get(chart_url(who, "agp", "svg", days=7)),
        await get(chart_url(who, "agp", "svg", end_date=(utcnow() - timedelta(days=1)).date())),
        await get(chart_url(who, "agp", "png")),
    ]
    etags = {chinese.headers["etag"]} | {v.headers["etag"] for v in variants}
    assert len(etags) == 5
    # And each stays its own: the Chinese image is not answered 304 for the English one.
    english = await client.get(
        chart_url(who, "agp", "svg"),
        headers={**who.headers, "If-None-Match": variants[0].headers["etag"]},
    )
    assert english.status_code == 200 and english.headers["etag"] == chinese.headers["etag"]
    assert variants[0].content != chinese.content


async def test_the_english_chart_has_english_labels(client, db_session, settings, renders) -> None:
    who = await wearing(client, db_session, settings)
    await client.get(chart_url(who), headers={**who.headers, "Accept-Language": "en"})
    await client.get(chart_url(who), headers=who.headers)
    english, chinese = renders
    assert isinstance(english, chart_drawing.AgpSpec) and isinstance(chinese, chart_drawing.AgpSpec)
    assert english.title == "Ambulatory glucose profile (AGP)"
    assert chinese.title == "动态葡萄糖图谱 (AGP)"
    assert "Mean glucose" in english.facts and "平均葡萄糖" in chinese.facts


async def test_a_repeated_chart_comes_from_the_cache(client, db_session, settings, renders) -> None:
    who = await wearing(client, db_session, settings)
    first = await client.get(chart_url(who, "bp-trend"), headers=who.headers)
    second = await client.get(chart_url(who, "bp-trend"), headers=who.headers)
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert len(renders) == 1


async def test_a_304_renders_nothing(client, db_session, settings, renders) -> None:
    who = await wearing(client, db_session, settings)
    etag = (await client.get(chart_url(who), headers=who.headers)).headers["etag"]
    renders.clear()
    response = await client.get(chart_url(who), headers={**who.headers, "If-None-Match": etag})
    assert response.status_code == 304 and renders == []


async def test_no_304_for_a_patient_the_caller_may_not_see(client, db_session, settings) -> None:
    who = await wearing(client, db_session, settings)
    _, _, own_doctor = await doctor_for(db_session, settings, who.patient)
    stranger = await wearer(db_session, settings)
    _, _, other_doctor = await doctor_for(db_session, settings, stranger.patient)
    for chart in ("agp", "bp-trend"):
        etag = (await client.get(chart_url(who, chart), headers=own_doctor)).headers["etag"]
        for headers in (other_doctor, stranger.headers):
            for sent in (etag, "*"):
                response = await client.get(
                    chart_url(who, chart), headers={**headers, "If-None-Match": sent}
                )
                assert response.status_code == 404, (chart, sent)
                assert "etag" not in response.headers


@pytest.mark.parametrize("image_format", ["svg", "png"])
async def test_a_spec_draws_the_same_bytes_whatever_was_drawn_before(
    client, db_session, settings, renders, image_format
) -> None:
    # The figures are built once and reused: nothing of one chart may stay in the next.
    who = await wearing(client, db_session, settings)
    other = await wearer(db_session, settings)
    await upload(client, other.headers, [cgm_item(other.cgm, utcnow(), 15.0)])
    for patient in (who, other):
        for chart in ("agp", "bp-trend"):
            await client.get(chart_url(patient, chart, days=3), headers=patient.headers)
    agp, bp, other_agp, other_bp = renders
    chart_drawing._agp_figure.cache_clear()  # freshly built figures
    chart_drawing._bp_figure.cache_clear()
    first = chart_drawing.render(agp, image_format), chart_drawing.render(bp, image_format)
    chart_drawing.render(other_agp, image_format)
    chart_drawing.render(other_bp, image_format)
    assert (
        chart_drawing.render(agp, image_format),
        chart_drawing.render(bp, image_format),
    ) == first


async def test_the_cache_drops_the_least_recently_used_beyond_its_bytes() -> None:
    cache = ChartCache(max_bytes=10)

    async def image(key: str, size: int) -> bytes:
        async def render() -> bytes:
            return key.encode() * size

        return await cache.image(key, render)

    await image("a", 4)
    await image("b", 4)
    await image("a", 4)  # a is now the most recently used
    await image("c", 4)
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.size == 8
    await image("big", 4)  # 12 bytes: larger than the whole cache, never kept
    assert "big" not in cache and cache.size == 8


async def test_concurrent_requests_for_one_image_share_one_render() -> None:
    cache = ChartCache(max_bytes=1000)
    started = 0
    release = asyncio.Event()

    async def render() -> bytes:
        nonlocal started
        started += 1
        await release.wait()
        return b"png"

    waiting = [asyncio.create_task(cache.image("k", render)) for _ in range(3)]
    await asyncio.sleep(0)
    waiting[0].cancel()  # one client goes away: the others still get the image
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert started == 1
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == [b"png", b"png"]
    assert "k" in cache


async def test_a_failed_render_is_not_kept() -> None:
    cache = ChartCache(max_bytes=1000)

    async def broken() -> bytes:
        raise RuntimeError("font missing")

    with pytest.raises(RuntimeError):
        await cache.image("k", broken)
    assert "k" not in cache

    async def working() -> bytes:
        return b"png"

    assert await cache.image("k", working) == b"png"
