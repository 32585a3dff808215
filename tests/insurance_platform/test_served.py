"""The fake platform as the app serves it (dev only, refused in prod), and the client against
the fake served over a real socket."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from app.config import Environment, Settings
from app.insurance_platform.client import HttpInsurancePlatform, PlatformTimeout
from app.insurance_platform.fake import FAKE_PLATFORM_PATH, create_fake_insurance_platform_app
from app.insurance_platform.persons import PlatformPersonSource
from app.main import create_app
from tests.fixtures import factories
from tests.fixtures.prod_settings import PROD_SETTINGS
from tests.fixtures.servers import serve_in_loop


def test_the_platform_needs_postgres() -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(
            APP_ENV=Environment.test,
            database_url="sqlite+aiosqlite:///./x.db",
            insurance_platform_url="http://platform.test/",
        )
    Settings(
        APP_ENV=Environment.test,
        database_url="postgresql+asyncpg://db/app",
        insurance_platform_url="http://platform.test/",
    )


def test_prod_refuses_the_fake_platform() -> None:
    with pytest.raises(ValidationError, match="FAKE_INSURANCE_PLATFORM_ENABLED"):
        Settings(**PROD_SETTINGS, fake_insurance_platform_enabled=True)
    assert not Settings(**PROD_SETTINGS).serves_fake_insurance_platform


async def test_the_app_serves_the_fake_and_configures_the_platform(database_url) -> None:
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=database_url,
        outbox_relay_enabled=False,
        background_jobs_enabled=False,
        fake_insurance_platform_enabled=True,
    )
    # (Settings refuse the URL with SQLite; the test database may be either, and no message
    # is stored here.)
    settings = settings.model_copy(
        update={"insurance_platform_url": f"http://127.0.0.1:9{FAKE_PLATFORM_PATH}/"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert isinstance(app.state.insurance_platform, HttpInsurancePlatform)
        assert isinstance(app.state.identity_source, PlatformPersonSource)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            answer = await http.post(f"{FAKE_PLATFORM_PATH}/", json={"infno": "9001"})
    assert answer.status_code == 200
    assert answer.json()["infcode"] == -1 and "入参校验失败" in answer.json()["err_msg"]
    unconfigured = create_app(settings.model_copy(update={"insurance_platform_url": None}))
    async with unconfigured.router.lifespan_context(unconfigured):
        assert not hasattr(unconfigured.state, "identity_source")


async def test_the_client_over_a_real_socket(platform_settings, sessionmaker) -> None:
    fake = create_fake_insurance_platform_app()
    async with serve_in_loop(fake) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        settings = platform_settings.model_copy(update={"insurance_platform_url": f"{base_url}/"})
        platform = HttpInsurancePlatform(http, settings, sessionmaker)
        certno = factories.resident_id()
        await http.post(
            "/_control/persons",
            json={"certno": certno, "insutype": "310", "insuplc_admdvs": "140300", "balc": "9.90"},
        )
        record = await PlatformPersonSource(platform).look_up(certno, "140300")
        assert record is not None and record.personal_account_balance_fen == 990
        await http.put("/_control/behaviour", json={"delay_seconds": 1})
        with pytest.raises(PlatformTimeout):
            await platform.call("1101", {"data": {"certno": certno}}, insured_area="140300")
        await http.put("/_control/behaviour", json={})
