"""Helpers for reading tests: a patient with a bound device, uploads through the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.kit.clock import utcnow
from app.models import Account, Device, Doctor, Patient, Role
from tests.fixtures import databases, factories


@dataclass
class Wearer:
    """A patient account with its headers and a bound device of each kind."""

    account: Account
    patient: Patient
    headers: dict[str, str]
    cgm: Device
    bp: Device
    meter: Device
    ecg: Device


async def device(
    session: AsyncSession, patient: Patient, kind: str, unit: str, **overrides: Any
) -> Device:
    """A device bound to `patient` now."""
    row = Device(
        patient_id=patient.id,
        kind=kind,
        model=f"Test {kind}",
        serial=f"SN-{uuid.uuid4().hex[:12]}",
        unit=unit,
        sample_interval_seconds=300 if kind == "cgm" else None,
        source="app",
        bound_at=utcnow() - timedelta(days=120),
    )
    for name, value in overrides.items():
        setattr(row, name, value)
    session.add(row)
    await session.flush()
    return row


async def wearer(session: AsyncSession, settings: Settings, cgm_unit: str = "mmol/L") -> Wearer:
    """A signed-in patient with a CGM (5-minute), a BP monitor, a meter and an ECG patch."""
    account = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, account)
    return Wearer(
        account=account,
        patient=patient,
        headers=await factories.bearer(session, settings, account),
        cgm=await device(session, patient, "cgm", cgm_unit),
        bp=await device(session, patient, "bp", "mmHg"),
        meter=await device(session, patient, "meter", "mmol/L"),
        ecg=await device(session, patient, "ecg", "bpm"),
    )


async def doctor_for(
    session: AsyncSession, settings: Settings, patient: Patient
) -> tuple[Account, Doctor, dict[str, str]]:
    """A doctor in active care of `patient`, signed in."""
    account = await factories.account(session, Role.doctor)
    doctor = await factories.doctor_of(session, account)
    await factories.care(session, patient, doctor)
    return account, doctor, await factories.bearer(session, settings, account)


def iso(moment: datetime) -> str:
    """ISO 8601 with offset, as phones send it."""
    return moment.isoformat()


def cgm_item(device: Device, at: datetime, value: float | None, **extra: Any) -> dict[str, Any]:
    """A CGM upload item in the device's unit."""
    return {
        "kind": "cgm",
        "device_id": str(device.id),
        "measured_at": iso(at),
        "value": value,
        "unit": device.unit,
        **extra,
    }


def bp_item(device: Device, at: datetime, systolic: float, diastolic: float, **extra: Any):
    """A blood-pressure upload item."""
    return {
        "kind": "bp",
        "device_id": str(device.id),
        "measured_at": iso(at),
        "systolic": systolic,
        "diastolic": diastolic,
        **extra,
    }


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    items: list[dict[str, Any]],
    language: str | None = None,
) -> dict[str, Any]:
    """POST a batch; the report (asserts 200), its messages in `language` if given."""
    if language:
        headers = {**headers, "Accept-Language": language}
    response = await client.post("/api/v1/readings", json={"items": items}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@asynccontextmanager
async def committed_database() -> AsyncIterator[tuple[Settings, async_sessionmaker[AsyncSession]]]:
    """A migrated database of its own whose rows are committed (for real concurrent requests
    against a real server), dropped afterwards."""
    url = await databases.create_migrated_database()
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=url,
        outbox_relay_enabled=False,
        fake_wechat_enabled=False,
        db_pool_size=20,
        db_max_overflow=20,
    )
    engine = create_engine(settings)
    try:
        yield settings, create_sessionmaker(engine)
    finally:
        await engine.dispose()
        await databases.drop_database(url)


async def committed_patient(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> tuple[Patient, dict[str, str]]:
    """A signed-in patient, committed (see `committed_database`)."""
    async with sessionmaker() as session:
        account = await factories.account(session, Role.patient)
        patient = await factories.patient_of(session, account)
        headers = await factories.bearer(session, settings, account)
        await session.commit()
    return patient, headers
