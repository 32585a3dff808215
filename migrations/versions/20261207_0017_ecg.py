"""ecg: single-lead ECG strips from wearables; the irregular-rhythm alert rule

Revision ID: 0017_ecg
Revises: 0016_abpm
Create Date: 2026-12-07 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_ecg"
down_revision: str | None = "0016_abpm"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_RULES = "rule IN ('urgent_low','sustained_high','bp_grade3','signal_loss')"
_NEW_RULES = "rule IN ('urgent_low','sustained_high','bp_grade3','signal_loss','irregular_rhythm')"
_RULE_CHECK = "ck_alerts_rule"


def _replace_rule_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(_RULE_CHECK), "alerts", type_="check")
        op.create_check_constraint(op.f(_RULE_CHECK), "alerts", new)
        return
    # SQLite cannot alter a CHECK; the stored schema text is edited in place (SQLite's
    # documented procedure for constraint changes, https://www.sqlite.org/lang_altertable.html
    # #otheralter). Downgrading narrows the list: alerts of the new rule are deleted first.
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
    ).scalar_one()
    assert old in sql, "alerts has an unexpected rule check"
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'alerts'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.create_table(
        "ecg_strips",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("utc_offset_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("lead", sa.String(length=16), nullable=False),
        sa.Column("sampling_rate_hz", sa.Double(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(length=255), nullable=False),
        sa.Column("samples_sha256", sa.String(length=64), nullable=False),
        sa.Column("device_rhythm", sa.String(length=16), nullable=True),
        sa.Column("device_rhythm_text", sa.String(length=80), nullable=True),
        sa.Column("heart_rate_bpm", sa.Double(), nullable=True),
        sa.Column("r_peaks", sa.JSON(), nullable=False),
        sa.Column("rr_nrmssd", sa.Double(), nullable=True),
        sa.Column("rr_irregular", sa.Boolean(), nullable=False),
        sa.Column("possible_af", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sample_count > 0", name=op.f("ck_ecg_strips_sample_count")),
        sa.CheckConstraint("sampling_rate_hz > 0", name=op.f("ck_ecg_strips_sampling_rate")),
        sa.CheckConstraint("source IN ('fhir','apple_csv')", name=op.f("ck_ecg_strips_source")),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_ecg_strips_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_ecg_strips_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecg_strips")),
        sa.UniqueConstraint("blob_key", name=op.f("uq_ecg_strips_blob_key")),
        sa.UniqueConstraint("device_id", "recorded_at", name="uq_ecg_strips_device_recorded"),
    )
    with op.batch_alter_table("ecg_strips", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ecg_strips_patient_recorded", ["patient_id", "recorded_at"], unique=False
        )
    _replace_rule_check(_OLD_RULES, _NEW_RULES)


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE rule = 'irregular_rhythm'")
    _replace_rule_check(_NEW_RULES, _OLD_RULES)
    with op.batch_alter_table("ecg_strips", schema=None) as batch_op:
        batch_op.drop_index("ix_ecg_strips_patient_recorded")
    op.drop_table("ecg_strips")
