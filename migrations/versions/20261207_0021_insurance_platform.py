"""insurance platform: every message to and from the national medical insurance information
platform (append-only but for key rotation of the encrypted body), the shared sign-in, and
the platform's settlements beside the local ones

Revision ID: 0021_insurance_platform
Revises: 0020_key_rotation
Create Date: 2026-12-07 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_insurance_platform"
down_revision: str | None = "0020_key_rotation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGES = "insurance_platform_messages"
# Columns of MESSAGES an UPDATE may never touch (the encrypted body may be re-encrypted).
WATCHED = (
    "id",
    "created_at",
    "msgid",
    "attempt",
    "infno",
    "direction",
    "at",
    "infcode",
    "inf_refmsgid",
    "subject",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        MESSAGES,
        sa.Column("msgid", sa.String(length=30), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("infno", sa.String(length=4), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("infcode", sa.Integer(), nullable=True),
        sa.Column("inf_refmsgid", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "direction IN ('request','answer','failure')",
            name=op.f("ck_insurance_platform_messages_direction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_platform_messages")),
        sa.UniqueConstraint("msgid", "direction", "attempt", name="uq_insurance_platform_messages"),
    )
    op.create_index(
        "ix_insurance_platform_messages_infno_at", MESSAGES, ["infno", "at"], unique=False
    )
    op.create_index(
        op.f("ix_insurance_platform_messages_subject"), MESSAGES, ["subject"], unique=False
    )
    op.create_table(
        "insurance_platform_sign_ins",
        sa.Column("fixmedins_code", sa.String(length=12), nullable=False),
        sa.Column("opter", sa.String(length=30), nullable=False),
        sa.Column("sign_date", sa.Date(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("sign_no", sa.String(length=30), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("msgid", sa.String(length=30), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_platform_sign_ins")),
        sa.UniqueConstraint(
            "fixmedins_code", "opter", "sign_date", "generation", name="uq_platform_sign_ins"
        ),
    )
    op.create_table(
        "insurance_platform_settlements",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("msgid", sa.String(length=30), nullable=False),
        sa.Column("setl_id", sa.String(length=30), nullable=False),
        sa.Column("mdtrt_id", sa.String(length=30), nullable=False),
        sa.Column("psn_no", sa.String(length=255), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("account_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_difference_fen", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('settlement','reversal')",
            name=op.f("ck_insurance_platform_settlements_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_platform_settlements_settlement_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_platform_settlements")),
        sa.UniqueConstraint("settlement_id", name="uq_insurance_platform_settlements_settlement"),
    )
    # The audit trail cannot be edited: append_only_but_key_rotation() is 0020's.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {MESSAGES}_append_only BEFORE UPDATE OR DELETE ON {MESSAGES} "
            "FOR EACH ROW EXECUTE FUNCTION append_only_but_key_rotation('body')"
        )
        return
    op.execute(
        f"CREATE TRIGGER {MESSAGES}_no_update BEFORE UPDATE OF {', '.join(WATCHED)} "
        f"ON {MESSAGES} BEGIN SELECT RAISE(ABORT, '{MESSAGES} is append-only'); END"
    )
    op.execute(
        f"CREATE TRIGGER {MESSAGES}_no_delete BEFORE DELETE ON {MESSAGES} "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGES} is append-only'); END"
    )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
        op.execute(f"DROP TRIGGER {MESSAGES}_append_only ON {MESSAGES}")
    else:
        op.execute(f"DROP TRIGGER {MESSAGES}_no_update")
        op.execute(f"DROP TRIGGER {MESSAGES}_no_delete")
    op.drop_table("insurance_platform_settlements")
    op.drop_table("insurance_platform_sign_ins")
    op.drop_index(op.f("ix_insurance_platform_messages_subject"), table_name=MESSAGES)
    op.drop_index("ix_insurance_platform_messages_infno_at", table_name=MESSAGES)
    op.drop_table(MESSAGES)
