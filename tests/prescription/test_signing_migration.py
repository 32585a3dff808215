"""Migration 20261206 (signing): the service-held private keys are dropped, and what those keys
signed before stays verifiable with their stored public keys (the keys retired, never used to
sign again)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.errors import Conflict
from app.kit.clock import utcnow
from app.kit.types import UTCDateTime
from app.models import (
    DoctorSigningKey,
    PharmacyChain,
    PharmacyStore,
    PharmacyStoreCoverage,
    Prescription,
    PrescriptionItem,
)
from app.prescription import keys as keys_service
from app.prescription import repository as rx_repository
from app.prescription import service as rx_service
from app.prescription.signing import canonical_bytes, signed_content
from tests.fixtures import databases, factories
from tests.prescription.world import build

BEFORE = "0007_assignment_speed"

# doctor_signing_keys as revision 0007 had it: the private key in a column.
_LEGACY_KEYS = sa.Table(
    "doctor_signing_keys",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("doctor_id", sa.Uuid),
    sa.Column("algorithm", sa.String(16)),
    sa.Column("public_key", sa.String(64)),
    sa.Column("private_key", sa.String(512)),
    sa.Column("retired_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime),
)


async def _store_as_0007_had_it(
    session: AsyncSession, covers: tuple[str, ...] = ("140302",)
) -> PharmacyStore:
    """`factories.store` for a database at 0007: the row written with the columns that revision
    had (the mapped model has more since), the store handed back unattached to the session."""
    await factories.district(session)
    chain = PharmacyChain(code=f"C{uuid.uuid4().hex[:8]}", name_zh="测试连锁", name_en="Test Chain")
    session.add(chain)
    await session.flush()
    store = PharmacyStore(
        id=uuid.uuid4(), chain_id=chain.id, code=f"S{uuid.uuid4().hex[:8]}",
        name_zh="测试门店", name_en="Test Store", district_code="140302",
        address_zh="测试路1号", is_active=True,
    )  # fmt: skip
    columns = ("id", "chain_id", "code", "name_zh", "name_en", "district_code", "address_zh")
    await session.execute(
        sa.insert(_LEGACY_STORES).values(
            **{name: getattr(store, name) for name in columns},
            is_active=True, created_at=utcnow(),
        )
    )  # fmt: skip
    for code in covers:
        await factories.district(session, code)
        session.add(PharmacyStoreCoverage(store_id=store.id, district_code=code))
    await session.flush()
    return store


# pharmacy_stores as revision 0007 had it (before the national code of 0022).
_LEGACY_STORES = sa.Table(
    "pharmacy_stores",
    sa.MetaData(),
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("chain_id", sa.Uuid),
    sa.Column("code", sa.String(32)),
    sa.Column("name_zh", sa.String(128)),
    sa.Column("name_en", sa.String(128)),
    sa.Column("district_code", sa.String(6)),
    sa.Column("address_zh", sa.String(256)),
    sa.Column("is_active", sa.Boolean),
    sa.Column("created_at", UTCDateTime),
)


@pytest.fixture
async def database_at_0007(monkeypatch):
    monkeypatch.setattr(factories, "store", _store_as_0007_had_it)
    url = await databases.create_database()
    await databases.migrate(url, BEFORE)
    yield url
    await databases.drop_database(url)


async def test_legacy_signatures_stay_verifiable_and_the_private_keys_are_gone(
    database_at_0007: str,
) -> None:
    url = database_at_0007
    config = Settings(APP_ENV=Environment.test, database_url=url, redis_url=None)
    engine = create_engine(config)
    try:
        async with create_sessionmaker(engine)() as session:
            world = await build(session, config, with_key=False, insured=False)
            # What the old service did: its own key for the doctor, signing on its behalf.
            key_id = uuid.uuid4()
            await session.execute(
                sa.insert(_LEGACY_KEYS).values(
                    id=key_id, doctor_id=world.doctor.id, algorithm="Ed25519",
                    public_key=world.phone.public_key, private_key="(encrypted private key)",
                    retired_at=None, created_at=utcnow() - timedelta(days=1),
                )
            )  # fmt: skip
            prescription = Prescription(
                patient_id=world.patient.id, doctor_id=world.doctor.id,
                institution_id=world.doctor.institution_id, disease_id=world.disease.id,
                entitlement_id=world.entitlement.id, status="pending_review",
                diagnosis_zh="2型糖尿病，复诊", written_on=world.entitlement.valid_from,
                valid_days=1, days_supply=7, total_fen=1580,
            )  # fmt: skip
            session.add(prescription)
            await session.flush()
            item = PrescriptionItem(
                prescription_id=prescription.id, line_no=1, drug_id=world.drugs.metformin.id,
                dose_quantity="1", dose_unit="片", frequency="bid", route="口服", days_supply=7,
                packs=1, unit_price_fen=1580, amount_fen=1580,
            )  # fmt: skip
            session.add(item)
            signed_at = utcnow() - timedelta(hours=1)
            content = canonical_bytes(
                signed_content(prescription, [item], world.disease, signed_at, key_id)
            )
            prescription.signed_content = content.decode()
            prescription.signature = world.phone.sign(content)
            prescription.signing_key_id = key_id
            prescription.signed_at = signed_at
            await session.commit()
            prescription_id = prescription.id
        await engine.dispose()

        await databases.migrate(url)

        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda c: {col["name"] for col in inspect(c).get_columns("doctor_signing_keys")}
            )
        assert "private_key" not in columns
        async with create_sessionmaker(engine)() as session:
            row = await session.get(Prescription, prescription_id)
            assert row is not None
            items = await rx_repository.items_of(session, row.id)
            await rx_service.verify(session, row, items)  # raises prescription_tampered if not
            key = await session.get(DoctorSigningKey, key_id)
            assert key is not None
            assert (key.status, key.origin) == ("retired", "server_legacy")
            assert key.activated_at == key.created_at
            assert key.retired_at is not None and key.retired_at > signed_at
            with pytest.raises(Conflict) as refused:
                await keys_service.active_key(session, world.doctor.id)
            assert refused.value.code == "signing_key_missing"
    finally:
        await engine.dispose()
