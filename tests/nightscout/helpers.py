"""A patient with a Nightscout secret on a running service (committed database, uvicorn
process), for the published clients to drive."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.authz.principal import Principal
from app.kit.clock import utcnow
from app.models import Role
from app.nightscout import service as nightscout_service
from tests.fixtures import factories
from tests.fixtures.servers import run_uvicorn
from tests.reading.helpers import committed_database


@dataclass
class NightscoutSite:
    """A running service and one patient's Nightscout secret on it."""

    url: str
    secret: str
    sessionmaker: async_sessionmaker[AsyncSession]
    patient_id: uuid.UUID


@asynccontextmanager
async def nightscout_site() -> AsyncIterator[NightscoutSite]:
    """The service as a uvicorn process on a database of its own, with a patient's secret."""
    async with committed_database() as (settings, sessionmaker):
        async with sessionmaker() as session:
            account = await factories.account(session, Role.patient)
            patient = await factories.patient_of(session, account)
            principal = Principal(
                account_id=account.id,
                session_id=nightscout_service.UPLOADER_SESSION,
                role=Role.patient,
                display_name=account.display_name,
                patient_id=patient.id,
            )
            secret = (await nightscout_service.rotate(session, settings, principal)).secret
            await session.commit()
        env = {
            "APP_ENV": "test",
            "DATABASE_URL": settings.database_url,
            "OUTBOX_RELAY_ENABLED": "false",
            "BACKGROUND_JOBS_ENABLED": "false",
        }
        # Starting takes longer on a busy machine (imports, migrations check): allow for it.
        async with run_uvicorn(env, startup_timeout=90) as url:
            yield NightscoutSite(url, secret, sessionmaker, patient.id)


def sgv_entry(minutes_ago: float, sgv: int, **extra: Any) -> dict[str, Any]:
    """A Nightscout `sgv` entry as uploaders send it (epoch ms `date` and ISO `dateString`)."""
    moment = utcnow() - timedelta(minutes=minutes_ago)
    return {
        "type": "sgv",
        "sgv": sgv,
        "date": int(moment.timestamp() * 1000),
        "dateString": moment.isoformat(),
        **extra,
    }
