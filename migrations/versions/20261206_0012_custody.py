"""custody: box history (scan, release, return), late cold-chain readings, quality returns

Revision ID: 0012_custody
Revises: 0011_hardening
Create Date: 2026-12-06 21:33:38.377350
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_custody"
down_revision: str | None = "0011_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What happened to a box is never rewritten: the table refuses UPDATE and DELETE.
_PG_APPEND_ONLY = (
    "CREATE FUNCTION traceability_events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER traceability_events_append_only BEFORE UPDATE OR DELETE "
    "ON traceability_events FOR EACH ROW EXECUTE FUNCTION traceability_events_append_only()",
)
_SQLITE_APPEND_ONLY = tuple(
    f"CREATE TRIGGER traceability_events_no_{action.lower()} BEFORE {action} "
    "ON traceability_events BEGIN SELECT RAISE(ABORT, 'traceability_events is append-only'); END"
    for action in ("UPDATE", "DELETE")
)
# Boxes sold before this revision: their scans become the first facts of their history.
_BACKFILL = (
    "INSERT INTO traceability_events "
    "(code, order_id, drug_id, event, at, actor_kind, actor_account_id, actor_name) "
    "SELECT b.code, b.order_id, b.drug_id, 'scanned', b.scanned_at, "
    "CASE WHEN b.scanned_by_account_id IS NULL THEN 'partner' ELSE 'account' END, "
    "b.scanned_by_account_id, COALESCE(a.display_name, 'partner') "
    "FROM dispensed_boxes b LEFT JOIN accounts a ON a.id = b.scanned_by_account_id"
)
_LIVE = sa.text("status IN ('requested','accepted','completed')")


def upgrade() -> None:
    op.create_table(
        "quality_returns",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("opened_by_role", sa.String(length=16), nullable=False),
        sa.Column("opened_by_account_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("reversal_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "opened_by_role IN ('patient','pharmacist')",
            name=op.f("ck_quality_returns_opened_by_role"),
        ),
        sa.CheckConstraint(
            "status IN ('requested','accepted','rejected','withdrawn','completed')",
            name=op.f("ck_quality_returns_status"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_quality_returns_opened_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["pharmacy_orders.id"],
            name=op.f("fk_quality_returns_order_id_pharmacy_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_quality_returns_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reversal_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_quality_returns_reversal_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["pharmacy_stores.id"],
            name=op.f("fk_quality_returns_store_id_pharmacy_stores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_returns")),
        sa.UniqueConstraint("order_id", "idempotency_key", name="uq_quality_returns_key"),
    )
    with op.batch_alter_table("quality_returns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_returns_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_quality_returns_store_status", ["store_id", "status"], unique=False
        )
        batch_op.create_index(
            "uq_quality_returns_live_order",
            ["order_id"],
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        )

    op.create_table(
        "quality_return_transitions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("return_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["accounts.id"],
            name=op.f("fk_quality_return_transitions_actor_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["quality_returns.id"],
            name=op.f("fk_quality_return_transitions_return_id_quality_returns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_return_transitions")),
        sa.UniqueConstraint(
            "return_id", "idempotency_key", name="uq_quality_return_transitions_key"
        ),
    )
    with op.batch_alter_table("quality_return_transitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quality_return_transitions_return", ["return_id", "id"], unique=False
        )

    op.create_table(
        "traceability_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("drug_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=8), nullable=False),
        sa.Column("actor_account_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("return_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "event IN ('scanned','released','returned')",
            name=op.f("ck_traceability_events_event"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_account_id"],
            ["accounts.id"],
            name=op.f("fk_traceability_events_actor_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["drug_id"], ["drugs.id"], name=op.f("fk_traceability_events_drug_id_drugs")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["pharmacy_orders.id"],
            name=op.f("fk_traceability_events_order_id_pharmacy_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["quality_returns.id"],
            name=op.f("fk_traceability_events_return_id_quality_returns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traceability_events")),
        sa.UniqueConstraint("order_id", "code", "event", name="uq_traceability_events_order_code"),
    )
    with op.batch_alter_table("traceability_events", schema=None) as batch_op:
        batch_op.create_index("ix_traceability_events_code", ["code", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_traceability_events_order_id"), ["order_id"], unique=False
        )
    op.execute(_BACKFILL)
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)

    with op.batch_alter_table("cold_chain_readings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("cold_chain_readings", schema=None) as batch_op:
        batch_op.drop_column("late")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER traceability_events_append_only ON traceability_events")
        op.execute("DROP FUNCTION traceability_events_append_only()")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER traceability_events_no_{action}")
    with op.batch_alter_table("traceability_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_traceability_events_order_id"))
        batch_op.drop_index("ix_traceability_events_code")
    op.drop_table("traceability_events")

    with op.batch_alter_table("quality_return_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_quality_return_transitions_return")
    op.drop_table("quality_return_transitions")

    with op.batch_alter_table("quality_returns", schema=None) as batch_op:
        batch_op.drop_index("uq_quality_returns_live_order")
        batch_op.drop_index("ix_quality_returns_store_status")
        batch_op.drop_index(batch_op.f("ix_quality_returns_patient_id"))
    op.drop_table("quality_returns")
