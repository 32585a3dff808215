"""payments: refunds stay pending until the money is back (processing, failed, retries)

Revision ID: 0013_payments
Revises: 0012_custody
Create Date: 2026-12-06 10:00:00.000000

Refunds written before this revision were booked in the ledger when they were requested, so
they are marked booked (`booked_at = created_at`): their later confirmation books nothing again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_payments"
down_revision: str | None = "0012_custody"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("provider_refund_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handed_back_by_account_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("retry_of_id", sa.Uuid(), nullable=True))
        batch_op.drop_constraint(batch_op.f("ck_payment_refunds_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_payment_refunds_status"),
            "status IN ('requested','processing','succeeded','failed')",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_payment_refunds_failed_when_failed"),
            "(status = 'failed') = (failed_at IS NOT NULL)",
        )
        batch_op.create_unique_constraint("uq_payment_refunds_retry_of_id", ["retry_of_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_payment_refunds_handed_back_by_account_id_accounts"),
            "accounts",
            ["handed_back_by_account_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_payment_refunds_retry_of_id_payment_refunds"),
            "payment_refunds",
            ["retry_of_id"],
            ["id"],
        )
    op.execute("UPDATE payment_refunds SET booked_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_payment_refunds_retry_of_id_payment_refunds"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_payment_refunds_handed_back_by_account_id_accounts"),
            type_="foreignkey",
        )
        batch_op.drop_constraint("uq_payment_refunds_retry_of_id", type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_payment_refunds_failed_when_failed"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_payment_refunds_status"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_payment_refunds_status"), "status IN ('requested','succeeded')"
        )
        batch_op.drop_column("retry_of_id")
        batch_op.drop_column("handed_back_by_account_id")
        batch_op.drop_column("checked_at")
        batch_op.drop_column("booked_at")
        batch_op.drop_column("provider_refund_id")
        batch_op.drop_column("failure_reason")
        batch_op.drop_column("failed_at")
