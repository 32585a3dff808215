"""platform pre-settlement, flags and SMS at most once: the platform's 2206 split kept on the
patient's quote beside the local estimate; the service's own `platform` flag (no account) when
the platform settled another split; push deliveries `sending` / `unknown` so an SMS whose
outcome was not recorded is never sent twice

Revision ID: 0027_platform_presettlement
Revises: 0024_disease_course
Create Date: 2026-12-07 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_platform_presettlement"
down_revision: str | None = "0024_disease_course"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERY_STATUSES = "'reserved','sent','refused','failed','skipped'"
_PLATFORM_QUOTE = "(COALESCE(platform_status, '') = 'presettled') = (platform_fund_fen IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table("insurance_presettlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("platform_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("platform_msgid", sa.String(length=30), nullable=True))
        for name in ("total", "fund", "account", "cash"):
            batch_op.add_column(sa.Column(f"platform_{name}_fen", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            batch_op.f("ck_insurance_presettlements_platform_status"),
            "platform_status IN ('presettled','unavailable')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_insurance_presettlements_platform_split_when_presettled"),
            _PLATFORM_QUOTE,
        )
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.drop_constraint(batch_op.f("ck_insurance_settlement_flags_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_insurance_settlement_flags_role"),
            "role IN ('doctor','bureau','platform')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_insurance_settlement_flags_platform_has_no_account"),
            "(role = 'platform') = (account_id IS NULL)",
        )
        batch_op.create_index(
            "uq_insurance_settlement_flags_platform",
            ["settlement_id"],
            unique=True,
            postgresql_where=sa.text("role = 'platform'"),
            sqlite_where=sa.text("role = 'platform'"),
        )
    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_push_deliveries_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_push_deliveries_status"),
            "status IN ('reserved','sending','unknown','sent','refused','failed','skipped')",
        )


def downgrade() -> None:
    op.execute("UPDATE push_deliveries SET status = 'failed' WHERE status IN ('sending','unknown')")
    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_push_deliveries_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_push_deliveries_status"), f"status IN ({_DELIVERY_STATUSES})"
        )
    op.execute("DELETE FROM insurance_settlement_flags WHERE role = 'platform'")
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.drop_index("uq_insurance_settlement_flags_platform")
        batch_op.drop_constraint(
            batch_op.f("ck_insurance_settlement_flags_platform_has_no_account"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_insurance_settlement_flags_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_insurance_settlement_flags_role"), "role IN ('doctor','bureau')"
        )
        batch_op.alter_column("account_id", existing_type=sa.Uuid(), nullable=False)
    with op.batch_alter_table("insurance_presettlements", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_insurance_presettlements_platform_split_when_presettled"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_insurance_presettlements_platform_status"), type_="check"
        )
        for name in ("cash", "account", "fund", "total"):
            batch_op.drop_column(f"platform_{name}_fen")
        batch_op.drop_column("platform_msgid")
        batch_op.drop_column("platform_status")
