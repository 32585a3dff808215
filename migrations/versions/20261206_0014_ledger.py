"""ledger: bureau corrections, flag reviews, held/released/carried statement money,
idempotency-key fingerprints

Revision ID: 0014_ledger
Revises: 0013_payments
Create Date: 2026-12-06 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_ledger"
down_revision: str | None = "0013_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Decisions and corrections are history: like the ledger, these refuse UPDATE and DELETE.
APPEND_ONLY = (
    "insurance_ledger_corrections",
    "insurance_flag_reviews",
    "insurance_statement_releases",
    "insurance_statement_carries",
)
_OLD_STATUSES = "status IN ('generated','confirmed','paid')"
_NEW_STATUSES = "status IN ('generated','confirmed','paid','carried','recovered')"
_STATUS_CHECK = "ck_insurance_statements_status"


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # insurance_append_only() was created by 0006_settlement.
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION insurance_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{action}")


def _replace_status_check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(_STATUS_CHECK), "insurance_statements", type_="check")
        op.create_check_constraint(op.f(_STATUS_CHECK), "insurance_statements", new)
        return
    # SQLite cannot alter a CHECK, and rebuilding the table (batch mode) fails while ledger
    # entries and statement lines refer to its rows. Widening an IN list only admits more
    # values, so the stored schema text is edited in place: SQLite's documented procedure for
    # constraint changes that leave the stored rows valid
    # (https://www.sqlite.org/lang_altertable.html#otheralter).
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'insurance_statements'"
    ).scalar_one()
    assert old in sql, "insurance_statements has an unexpected status check"
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'insurance_statements'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "insurance_flag_reviews",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_name", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversal_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirmed','rejected')",
            name=op.f("ck_insurance_flag_reviews_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_flag_reviews_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_flag_reviews_reversal_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_flag_reviews_settlement_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_flag_reviews")),
    )
    with op.batch_alter_table("insurance_flag_reviews", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insurance_flag_reviews_settlement", ["settlement_id", "decided_at"], unique=False
        )
    op.create_table(
        "insurance_ledger_corrections",
        sa.Column("corrected_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("correction_transaction_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_ledger_corrections_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_insurance_ledger_corrections_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_ledger_corrections_statement_id_insurance_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_ledger_corrections")),
        sa.UniqueConstraint(
            "corrected_transaction_id",
            name=op.f("uq_insurance_ledger_corrections_corrected_transaction_id"),
        ),
        sa.UniqueConstraint(
            "correction_transaction_id",
            name=op.f("uq_insurance_ledger_corrections_correction_transaction_id"),
        ),
    )
    with op.batch_alter_table("insurance_ledger_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insurance_ledger_corrections_institution_id"),
            ["institution_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_ledger_corrections_statement_id"),
            ["statement_id"],
            unique=False,
        )
    op.create_table(
        "insurance_statement_carries",
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("into_statement_id", sa.Uuid(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("carried_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount_fen < 0", name=op.f("ck_insurance_statement_carries_amount_negative")
        ),
        sa.ForeignKeyConstraint(
            ["into_statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_statement_carries_into_statement_id_insurance_statements"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_statement_carries_statement_id_insurance_statements"),
        ),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_insurance_statement_carries")),
    )
    with op.batch_alter_table("insurance_statement_carries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insurance_statement_carries_into_statement_id"),
            ["into_statement_id"],
            unique=False,
        )
    op.create_table(
        "insurance_statement_releases",
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_statement_releases_settlement_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_statement_releases_statement_id_insurance_statements"),
        ),
        sa.PrimaryKeyConstraint(
            "statement_id", "settlement_id", name=op.f("pk_insurance_statement_releases")
        ),
        sa.UniqueConstraint(
            "settlement_id", name=op.f("uq_insurance_statement_releases_settlement_id")
        ),
    )
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_insurance_settlement_flags_review_id_insurance_flag_reviews"),
            "insurance_flag_reviews",
            ["review_id"],
            ["id"],
        )
    with op.batch_alter_table("insurance_statement_lines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("held", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("insurance_statements", schema=None) as batch_op:
        for column in ("held_fen", "released_fen", "carried_in_fen"):
            batch_op.add_column(
                sa.Column(column, sa.BigInteger(), server_default="0", nullable=False)
            )
    _replace_status_check(_OLD_STATUSES, _NEW_STATUSES)
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    _replace_status_check(_NEW_STATUSES, _OLD_STATUSES)
    with op.batch_alter_table("insurance_statements", schema=None) as batch_op:
        batch_op.drop_column("carried_in_fen")
        batch_op.drop_column("released_fen")
        batch_op.drop_column("held_fen")
    with op.batch_alter_table("insurance_statement_lines", schema=None) as batch_op:
        batch_op.drop_column("held")
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_insurance_settlement_flags_review_id_insurance_flag_reviews"),
            type_="foreignkey",
        )
        batch_op.drop_column("review_id")
    op.drop_table("insurance_statement_releases")
    with op.batch_alter_table("insurance_statement_carries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_statement_carries_into_statement_id"))
    op.drop_table("insurance_statement_carries")
    with op.batch_alter_table("insurance_ledger_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_ledger_corrections_statement_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_ledger_corrections_institution_id"))
    op.drop_table("insurance_ledger_corrections")
    with op.batch_alter_table("insurance_flag_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_insurance_flag_reviews_settlement")
    op.drop_table("insurance_flag_reviews")
    op.drop_table("idempotency_keys")
