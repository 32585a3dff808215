"""Migration 20261206 (signing): the service-held private keys are dropped, and what those keys
signed before stays verifiable with their stored public keys (the keys retired, never used to
sign again)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.errors import Conflict
from app.kit.clock import utcnow
from app.kit.types import UTCDateTime
from app.models import Base, DoctorSigningKey, Prescription, PrescriptionItem
from app.prescription import keys as keys_service
from app.prescription import repository as rx_repository
from app.prescription import service as rx_service
from app.prescription.signing import canonical_bytes, signed_content
from tests.fixtures import databases
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


def _add_later_columns(connection: sa.Connection) -> list[tuple[str, str]]:
    """Add, plain and nullable, every column the models have and the database's tables lack."""
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    added = []
    for table in Base.metadata.sorted_tables:
        if table.name not in tables:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=connection.dialect)
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                )
                added.append((table.name, column.name))
    return added


def _drop_columns(connection: sa.Connection, columns: list[tuple[str, str]]) -> None:
    for table, column in columns:
        connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")


def _add_later_tables(connection: sa.Connection) -> list[sa.Table]:
    """Create the tables later revisions added (the real migrations create them again)."""
    present = set(inspect(connection).get_table_names())
    added = [t for t in Base.metadata.sorted_tables if t.name not in present]
    for table in added:
        table.create(connection)
    return added


def _drop_tables(connection: sa.Connection, tables: list[sa.Table]) -> None:
    for table in reversed(tables):
        table.drop(connection)


def _default_dropped_columns(connection: sa.Connection) -> None:
    """Give a default to every NOT NULL column a later revision dropped (today's models do not
    write it): '' for text, 0 for numbers, as an old service would have had to write."""
    inspector = inspect(connection)
    for table in Base.metadata.sorted_tables:
        if table.name not in inspector.get_table_names():
            continue
        for column in inspector.get_columns(table.name):
            if column["name"] in table.columns or column["nullable"] or column["default"]:
                continue
            default = "''" if isinstance(column["type"], sa.String) else "0"
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(
                    f"ALTER TABLE {table.name} ALTER COLUMN {column['name']} SET DEFAULT {default}"
                )
                continue
            # SQLite: the stored schema text gains the default (no stored row changes;
            # https://www.sqlite.org/lang_altertable.html#otheralter).
            sql = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table.name,)
            ).scalar_one()
            declared = f"{column['name']} {column['type'].compile(dialect=connection.dialect)}"
            declared += " NOT NULL"
            assert declared in sql, (table.name, declared)
            version = connection.exec_driver_sql("PRAGMA schema_version").scalar_one()
            connection.exec_driver_sql("PRAGMA writable_schema = ON")
            connection.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (sql.replace(declared, f"{declared} DEFAULT {default}"), table.name),
            )
            connection.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
            connection.exec_driver_sql("PRAGMA writable_schema = OFF")


@asynccontextmanager
async def _writable_by_todays_models(engine: AsyncEngine) -> AsyncIterator[None]:
    """While open, the tables of an old revision also have the columns and tables later
    revisions added (today's models write them all), and columns later revisions dropped have
    a default; afterwards the added ones are gone again, so the real migrations add them as
    they would to a database of that revision."""
    async with engine.begin() as connection:
        added = await connection.run_sync(_add_later_columns)
        tables = await connection.run_sync(_add_later_tables)
        await connection.run_sync(_default_dropped_columns)
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.run_sync(_drop_columns, added)
            await connection.run_sync(_drop_tables, tables)


@pytest.fixture
async def database_at_0007():
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
        async with (
            _writable_by_todays_models(engine),
            create_sessionmaker(engine)() as session,
        ):
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
