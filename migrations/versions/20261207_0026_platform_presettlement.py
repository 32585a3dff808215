"""platform pre-settlement, flags and SMS at most once: the platform's 2206 split kept on the
patient's quote beside the local estimate; the service's own `platform` flag (no account) when
the platform settled another split; push deliveries `sending` / `unknown` so an SMS whose
outcome was not recorded is never sent twice

Revision ID: 0026_platform_presettlement
Revises: 0025_chat_kinds
Create Date: 2026-12-07 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_platform_presettlement"
down_revision: str | None = "0025_chat_kinds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERY_STATUSES = "'reserved','sent','refused','failed','skipped'"
_PLATFORM_QUOTE = "(COALESCE(platform_status, '') = 'presettled') = (platform_fund_fen IS NOT NULL)"


_STATUS_CHECK = "ck_insurance_presettlements_platform_status"
_SPLIT_CHECK = "ck_insurance_presettlements_platform_split_when_presettled"
_PLATFORM_COLUMNS = (
    f"platform_status VARCHAR(16) CONSTRAINT {_STATUS_CHECK} "
    "CHECK (platform_status IN ('presettled','unavailable'))",
    "platform_msgid VARCHAR(30)",
    "platform_total_fen BIGINT",
    # The check that names two columns sits on the later one, so each can be dropped alone.
    f"platform_fund_fen BIGINT CONSTRAINT {_SPLIT_CHECK} CHECK ({_PLATFORM_QUOTE})",
    "platform_account_fen BIGINT",
    "platform_cash_fen BIGINT",
)


def upgrade() -> None:
    # Plain ADD COLUMN on both databases, no table rebuild: SQLite's batch mode would rebuild the
    # quote table, losing the inline foreign keys later migrations' downgrades rely on.
    for column in _PLATFORM_COLUMNS:
        op.execute(f"ALTER TABLE insurance_presettlements ADD COLUMN {column}")
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
    # The fund column first: its check names the status column.
    for column in ("fund", "cash", "account", "total"):
        op.execute(f"ALTER TABLE insurance_presettlements DROP COLUMN platform_{column}_fen")
    op.execute("ALTER TABLE insurance_presettlements DROP COLUMN platform_msgid")
    op.execute("ALTER TABLE insurance_presettlements DROP COLUMN platform_status")
