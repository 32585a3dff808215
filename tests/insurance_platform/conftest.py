"""The client of the insurance platform driven over HTTP (httpx's ASGI transport) against the
development fake, which tests steer through its control endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.catalogue import service as catalogue_service
from app.config import Settings
from app.insurance_platform.client import HttpInsurancePlatform
from app.insurance_platform.fake import create_fake_insurance_platform_app
from app.insurance_platform.persons import PlatformPersonSource
from app.kit.clock import city_date
from app.kit.money import fen_to_yuan
from app.models import BenefitRule, InsuredIdentity
from tests.prescription.world import World, build, ok

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


LEVELS = {"full": "01", "partial": "02", "self_pay": "03"}


@pytest.fixture
async def world(db_session, settings, platform_http) -> World:
    """The pilot world, its patient known to the fake platform as verified here, the fake's
    terms those of the world's benefit rule and its catalogue the world's drugs."""
    built = await build(db_session, settings)
    identity = await db_session.scalar(
        select(InsuredIdentity).where(InsuredIdentity.patient_id == built.patient.id)
    )
    assert identity is not None
    await add_person(
        platform_http,
        identity.national_id,
        identity.insurance_type,
        identity.insured_area,
        fen_to_yuan(identity.personal_account_balance_fen),
    )
    rule = await db_session.scalar(
        select(BenefitRule).where(BenefitRule.insurance_type == identity.insurance_type)
    )
    assert rule is not None
    terms = {
        "deductible_fen": rule.deductible_fen,
        "reimbursement_bp": rule.reimbursement_bp,
        "partial_prepay_bp": rule.partial_prepay_bp,
    }
    put = await platform_http.put(f"/_control/terms/{identity.insurance_type}", json=terms)
    assert put.status_code == 204
    # The disease's annual limit, as the service's catalogue has it (按病种限额).
    limit = await catalogue_service.annual_limit_fen(
        db_session, built.disease.id, identity.insurance_type, city_date()
    )
    put = await platform_http.put(
        f"/_control/limits/{identity.insurance_type}/{built.disease.code}",
        json={"annual_limit_fen": limit},
    )
    assert put.status_code == 204
    drugs = [d for d in vars(built.drugs).values() if hasattr(d, "national_code")]
    catalogue = [
        {"med_list_codg": d.national_code, "chrgitm_lv": LEVELS[d.insurance_class]} for d in drugs
    ]
    assert (await platform_http.post("/_control/catalogue", json=catalogue)).status_code == 204
    return built


async def hand_over(client: httpx.AsyncClient, world: World, order: dict[str, Any]) -> Any:
    """The pharmacist hands a picked order over at the counter with the patient's code."""
    url = f"/api/v1/orders/{order['id']}"
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    return await client.post(
        f"{url}/handover", json={"code": code}, headers=world.as_("pharmacist")
    )
