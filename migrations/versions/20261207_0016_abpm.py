"""abpm: where a BP reading was taken and the wearer's wake flag; sleep periods (diary)

Revision ID: 0016_abpm
Revises: 0014_ledger
Create Date: 2026-12-07 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_abpm"
down_revision: str | None = "0014_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without defaults: on PostgreSQL adding them to the partitioned table
    # (and so to every partition) rewrites nothing.
    op.add_column("readings", sa.Column("setting", sa.String(length=10), nullable=True))
    op.add_column("readings", sa.Column("awake", sa.Boolean(), nullable=True))
    op.create_table(
        "bp_sleep_periods",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("bed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rise_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rise_at > bed_at", name=op.f("ck_bp_sleep_periods_rise_after_bed")),
        sa.CheckConstraint(
            "source IN ('patient','device')", name=op.f("ck_bp_sleep_periods_source")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_bp_sleep_periods_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bp_sleep_periods")),
        sa.UniqueConstraint(
            "patient_id", "bed_at", name=op.f("uq_bp_sleep_periods_patient_id_bed_at")
        ),
    )
    op.create_index(
        op.f("ix_bp_sleep_periods_patient_id"), "bp_sleep_periods", ["patient_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bp_sleep_periods_patient_id"), table_name="bp_sleep_periods")
    op.drop_table("bp_sleep_periods")
    with op.batch_alter_table("readings") as batch_op:
        batch_op.drop_column("awake")
        batch_op.drop_column("setting")
