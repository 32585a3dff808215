"""readings: device possession proof (registrations, pairing failures, verified bindings) and
what CGM uploaders send besides the value (trend, noise, raw values, uploader device)

Revision ID: 0009_readings
Revises: 0008_realtime
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_readings"
down_revision: str | None = "0008_realtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VERIFIED = "unbound_at IS NULL AND verified"
_BOUND = "unbound_at IS NULL"


def upgrade() -> None:
    op.create_table(
        "device_registrations",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("pairing_code_index", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("registered_by", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('cgm','bp','ecg','meter')", name=op.f("ck_device_registrations_kind")
        ),
        sa.CheckConstraint(
            "source IN ('vendor','clinic')", name=op.f("ck_device_registrations_source")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"],
            ["accounts.id"],
            name=op.f("fk_device_registrations_registered_by_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_registrations")),
        sa.UniqueConstraint("kind", "serial", name=op.f("uq_device_registrations_kind_serial")),
    )
    op.create_table(
        "device_pairing_failures",
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_device_pairing_failures_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["device_registrations.id"],
            name=op.f("fk_device_pairing_failures_registration_id_device_registrations"),
        ),
        sa.PrimaryKeyConstraint(
            "registration_id", "patient_id", name=op.f("pk_device_pairing_failures")
        ),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_index("uq_devices_bound_serial")
        batch_op.create_index(
            "uq_devices_verified_serial",
            ["kind", "serial"],
            unique=True,
            sqlite_where=sa.text(_VERIFIED),
            postgresql_where=sa.text(_VERIFIED),
        )
        batch_op.create_index("ix_devices_kind_serial", ["kind", "serial"], unique=False)
    # Nightscout devices carry a serial the service made for the patient: nobody else can claim it.
    op.execute("UPDATE devices SET verified = TRUE WHERE source = 'nightscout'")
    # ALTER TABLE on the partitioned parent reaches every partition (PostgreSQL).
    op.add_column("readings", sa.Column("trend", sa.String(length=20), nullable=True))
    op.add_column("readings", sa.Column("noise", sa.SmallInteger(), nullable=True))
    op.add_column("readings", sa.Column("filtered", sa.Double(), nullable=True))
    op.add_column("readings", sa.Column("unfiltered", sa.Double(), nullable=True))
    op.add_column("readings", sa.Column("source_device", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for column in ("source_device", "unfiltered", "filtered", "noise", "trend"):
        op.drop_column("readings", column)
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_kind_serial")
        batch_op.drop_index("uq_devices_verified_serial")
        batch_op.create_index(
            "uq_devices_bound_serial",
            ["kind", "serial"],
            unique=True,
            sqlite_where=sa.text(_BOUND),
            postgresql_where=sa.text(_BOUND),
        )
        batch_op.drop_column("verified")
    op.drop_table("device_pairing_failures")
    op.drop_table("device_registrations")
