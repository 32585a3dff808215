"""The client of the insurance platform driven over HTTP (httpx's ASGI transport) against the
development fake, which tests steer through its control endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.insurance_platform.client import HttpInsurancePlatform
from app.insurance_platform.fake import create_fake_insurance_platform_app
from app.insurance_platform.persons import PlatformPersonSource

PLATFORM_URL = "http://fake-platform.test/"


@pytest.fixture
def fake_platform() -> FastAPI:
    return create_fake_insurance_platform_app()


@pytest.fixture
def platform_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"insurance_platform_url": PLATFORM_URL, "insurance_platform_timeout_seconds": 0.3}
    )


@pytest.fixture
async def platform_http(fake_platform: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake_platform)
    async with httpx.AsyncClient(transport=transport, base_url=PLATFORM_URL) as http:
        yield http


@pytest.fixture
def platform(
    platform_http: httpx.AsyncClient,
    platform_settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> HttpInsurancePlatform:
    return HttpInsurancePlatform(platform_http, platform_settings, sessionmaker)


@pytest.fixture
def platform_app(app: Any, platform: HttpInsurancePlatform) -> Any:
    """The app with the insurance platform configured (as app.main does when the URL is set)."""
    app.state.insurance_platform = platform
    app.state.identity_source = PlatformPersonSource(platform)
    return app


async def add_person(
    http: httpx.AsyncClient, certno: str, insutype: str, area: str = "140300", balc: str = "0.00"
) -> None:
    answer = await http.post(
        "/_control/persons",
        json={"certno": certno, "insutype": insutype, "insuplc_admdvs": area, "balc": balc},
    )
    assert answer.status_code == 204, answer.text


async def behave(http: httpx.AsyncClient, **behaviour: object) -> None:
    answer = await http.put("/_control/behaviour", json=behaviour)
    assert answer.status_code == 204, answer.text


async def received(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await http.get("/_control/received")
    return list(answer.json())
