"""readings: devices, sensor sessions, Nightscout credentials, readings, rollups and alerts

Revision ID: 0002_readings
Revises: 149c8ee6abec
Create Date: 2026-11-22 14:45:00

On PostgreSQL `readings` is range-partitioned by `measured_at`, one partition a month in the
schema `reading_partitions` (kept out of the default schema so autogenerate does not see them)
plus a default partition; `create_reading_partitions(from, months)` creates months ahead and
moves any rows the default partition holds for them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_readings"
down_revision: str | None = "149c8ee6abec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_PARTITIONING = [
    "CREATE SCHEMA reading_partitions",
    "CREATE TABLE reading_partitions.readings_default PARTITION OF readings DEFAULT",
    """
    CREATE FUNCTION create_reading_partitions(first_month date, months integer)
    RETURNS integer AS $$
    DECLARE
        lower_bound timestamptz;
        upper_bound timestamptz;
        name text;
        created integer := 0;
    BEGIN
        FOR i IN 0 .. months - 1 LOOP
            lower_bound := (date_trunc('month', first_month) + make_interval(months => i))::date
                AT TIME ZONE 'UTC';
            upper_bound := (date_trunc('month', first_month) + make_interval(months => i + 1))::date
                AT TIME ZONE 'UTC';
            name := 'readings_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMM');
            CONTINUE WHEN to_regclass('reading_partitions.' || name) IS NOT NULL;
            -- Rows that landed in the default partition for this month move to the new one.
            EXECUTE format(
                'CREATE TEMP TABLE reading_partition_move ON COMMIT DROP AS '
                'WITH moved AS (DELETE FROM reading_partitions.readings_default '
                'WHERE measured_at >= %L AND measured_at < %L RETURNING *) SELECT * FROM moved',
                lower_bound, upper_bound);
            EXECUTE format(
                'CREATE TABLE reading_partitions.%I PARTITION OF readings '
                'FOR VALUES FROM (%L) TO (%L)', name, lower_bound, upper_bound);
            INSERT INTO readings SELECT * FROM reading_partition_move;
            DROP TABLE reading_partition_move;
            created := created + 1;
        END LOOP;
        RETURN created;
    END;
    $$ LANGUAGE plpgsql
    """,
    # A year back (backfill and imports) and three months ahead; the reading worker keeps
    # creating months ahead.
    "SELECT create_reading_partitions((now() - interval '12 months')::date, 16)",
]


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("sample_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("range_low_mg_dl", sa.Double(), nullable=True),
        sa.Column("range_high_mg_dl", sa.Double(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('cgm','bp','ecg','meter')", name=op.f("ck_devices_kind")),
        sa.CheckConstraint(
            "source IN ('app','nightscout','import')", name=op.f("ck_devices_source")
        ),
        sa.CheckConstraint("unit IN ('mg/dL','mmol/L','mmHg','bpm')", name=op.f("ck_devices_unit")),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_devices_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_devices_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            "uq_devices_bound_serial",
            ["kind", "serial"],
            unique=True,
            sqlite_where=sa.text("unbound_at IS NULL"),
            postgresql_where=sa.text("unbound_at IS NULL"),
        )

    op.create_table(
        "sensor_sessions",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_sensor_sessions_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_sensor_sessions_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensor_sessions")),
    )
    with op.batch_alter_table("sensor_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sensor_sessions_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sensor_sessions_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "uq_sensor_sessions_running",
            ["device_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "nightscout_credentials",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("secret_index", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_nightscout_credentials_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_nightscout_credentials_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nightscout_credentials")),
        sa.UniqueConstraint("patient_id", name=op.f("uq_nightscout_credentials_patient_id")),
        sa.UniqueConstraint("secret_index", name=op.f("uq_nightscout_credentials_secret_index")),
    )

    op.create_table(
        "readings",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("utc_offset_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("value2", sa.Double(), nullable=True),
        sa.Column("value3", sa.Double(), nullable=True),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column("original_value", sa.Double(), nullable=True),
        sa.Column("original_unit", sa.String(length=8), nullable=True),
        sa.Column("label", sa.String(length=12), nullable=True),
        sa.Column("sample_interval_seconds", sa.Integer(), nullable=True),
        sa.Column("backfilled", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "kind", "measured_at", name=op.f("pk_readings")),
        postgresql_partition_by="RANGE (measured_at)",
    )
    op.create_index(
        "ix_readings_patient_kind_time",
        "readings",
        ["patient_id", "kind", "measured_at"],
        unique=False,
        postgresql_include=["value", "sample_interval_seconds"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_PARTITIONING:
            op.execute(statement)

    op.create_table(
        "reading_latest",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("utc_offset_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("value2", sa.Double(), nullable=True),
        sa.Column("value3", sa.Double(), nullable=True),
        sa.Column("flag", sa.String(length=4), nullable=True),
        sa.Column("stale_from", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "kind", name=op.f("pk_reading_latest")),
    )
    op.create_table(
        "cgm_daily",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("value_sum", sa.Double(), nullable=False),
        sa.Column("squared_deviations", sa.Double(), nullable=False),
        sa.Column("covered_seconds", sa.Double(), nullable=False),
        sa.Column("very_low_seconds", sa.Double(), nullable=False),
        sa.Column("low_seconds", sa.Double(), nullable=False),
        sa.Column("in_range_seconds", sa.Double(), nullable=False),
        sa.Column("high_seconds", sa.Double(), nullable=False),
        sa.Column("very_high_seconds", sa.Double(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "local_date", name=op.f("pk_cgm_daily")),
    )

    op.create_table(
        "alerts",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("value2", sa.Double(), nullable=True),
        sa.Column("episode_ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rule IN ('urgent_low','sustained_high','bp_grade3','signal_loss')",
            name=op.f("ck_alerts_rule"),
        ),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_alerts_level")),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"], ["accounts.id"], name=op.f("fk_alerts_acknowledged_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_alerts_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_patient_unacknowledged", ["patient_id", "acknowledged_at"], unique=False
        )
        batch_op.create_index(
            "uq_alerts_open_episode",
            ["patient_id", "rule"],
            unique=True,
            sqlite_where=sa.text("episode_ended_at IS NULL"),
            postgresql_where=sa.text("episode_ended_at IS NULL"),
        )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("cgm_daily")
    op.drop_table("reading_latest")
    op.drop_index("ix_readings_patient_kind_time", table_name="readings")
    op.drop_table("readings")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION create_reading_partitions(date, integer)")
        op.execute("DROP SCHEMA reading_partitions CASCADE")
    op.drop_table("nightscout_credentials")
    op.drop_table("sensor_sessions")
    op.drop_table("devices")
