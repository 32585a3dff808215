"""Fixtures of the hostile-input tests: row counts to prove "no state change", an app built with
other limits, and the payment fixtures (fake providers, a settled order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import Role
from tests.fixtures import factories
from tests.payment.conftest import delivery, fake_alipay, fake_wechatpay, providers

__all__ = ["delivery", "fake_alipay", "fake_wechatpay", "providers"]

# What the app needs from the `app` fixture's wiring (the test's transaction, fakes).
_WIRED_STATE = ("engine", "sessionmaker", "http", "hub", "blobs", "wechat")


async def row_counts(session: AsyncSession, *models: Any) -> dict[str, int]:
    """How many rows each table holds now (the app's writes share the test's transaction)."""
    return {
        model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
        for model in models
    }


@pytest.fixture
def client_with(app, settings) -> Callable[..., httpx.AsyncClient]:
    """A client of the app built with some settings changed (limits are fixed at build time),
    wired like the `app` fixture's."""

    def build(**changes: Any) -> httpx.AsyncClient:
        application = create_app(settings.model_copy(update=changes))
        for name in _WIRED_STATE:
            setattr(application.state, name, getattr(app.state, name))
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        )

    return build


@pytest.fixture
async def patient_headers(db_session, settings) -> dict[str, str]:
    """A signed-in patient's Authorization header."""
    account = await factories.account(db_session, Role.patient)
    return await factories.bearer(db_session, settings, account)
