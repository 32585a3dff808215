"""Payment fixtures: fake providers wired into the app, a settled order and its people."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.insurance import settlement as settlement_service
from app.models import Account, Patient, PharmacyStaff, Role, Settlement
from app.payment.providers import get_gateway
from tests.fixtures import factories
from tests.insurance import world as w
from tests.payment.fakes import FakeAlipay, FakeWeChatPay, gateway


@pytest.fixture
def fake_wechatpay() -> FakeWeChatPay:
    return FakeWeChatPay()


@pytest.fixture
def fake_alipay() -> FakeAlipay:
    return FakeAlipay()


@pytest.fixture
def providers(app, fake_wechatpay, fake_alipay):
    """The app's payment gateway replaced by one talking to the fakes."""
    wired = gateway(fake_wechatpay, fake_alipay)
    app.dependency_overrides[get_gateway] = lambda: wired
    yield wired
    app.dependency_overrides.pop(get_gateway, None)


@dataclass
class Delivery:
    world: w.World
    patient: Patient
    settlement: Settlement
    patient_headers: dict[str, str]
    courier_headers: dict[str, str]


@pytest.fixture
async def delivery(db_session, settings) -> Delivery:
    """A settled order (cash share 160.00 yuan) with its patient and the store's courier."""
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    courier = await factories.account(db_session, Role.courier)
    staff = await db_session.scalar(
        select(PharmacyStaff).where(PharmacyStaff.account_id == courier.id)
    )
    staff.store_id = world.store.id
    await db_session.flush()
    settlement = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 15)]), w.message_id()
    )
    patient_account = await db_session.get(Account, patient.account_id)
    return Delivery(
        world=world,
        patient=patient,
        settlement=settlement,
        patient_headers=await factories.bearer(db_session, settings, patient_account),
        courier_headers=await factories.bearer(db_session, settings, courier),
    )
