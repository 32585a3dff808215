"""push grants, consents and deliveries: one-time WeChat subscription grants per person and
template, the reports they were counted from (by Idempotency-Key), and each notification's
delivery (channel, held grant, outcome) keyed by its outbox idempotency key

Revision ID: 0023_push_grants
Revises: 0022_staff
Create Date: 2026-12-07 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023_push_grants"
# 0021 is another branch's; whoever merges both points this at 0021's revision.
down_revision: str | None = "0022_staff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_grants",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_push_grants_remaining_not_negative")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_push_grants_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "template_id", name=op.f("pk_push_grants")),
    )
    op.create_table(
        "push_consents",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column(
            "results",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_push_consents_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "idempotency_key", name=op.f("pk_push_consents")),
    )
    op.create_table(
        "push_deliveries",
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("template_id", sa.String(length=128), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "channel IN ('wechat','sms','none')", name=op.f("ck_push_deliveries_channel")
        ),
        sa.CheckConstraint(
            "status IN ('reserved','sent','refused','failed','skipped')",
            name=op.f("ck_push_deliveries_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_push_deliveries_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_push_deliveries")),
    )
    op.create_index(
        "ix_push_deliveries_account_id", "push_deliveries", ["account_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_push_deliveries_account_id", table_name="push_deliveries")
    op.drop_table("push_deliveries")
    op.drop_table("push_consents")
    op.drop_table("push_grants")
