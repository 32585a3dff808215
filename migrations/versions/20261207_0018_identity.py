"""identity: declared and verified insured identities, their bindings to entitlements, the
identity each claim is settled with;
the patient's choice to pay from the personal account

Revision ID: 0018_identity
Revises: 0017_ecg
Create Date: 2026-12-07 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_identity"
down_revision: str | None = "0017_ecg"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Declarations and verifications are history: a correction is a new row.
APPEND_ONLY = ("identity_declarations", "insured_identities", "entitlement_identities")
# Tables whose claims are settled with a verified identity.
CLAIM_TABLES = ("insurance_presettlements", "insurance_settlements")


def _identity_columns() -> list[sa.Column]:
    return [
        sa.Column("national_id", sa.String(length=255), nullable=False),
        sa.Column("national_id_index", sa.String(length=64), nullable=False),
        sa.Column("insurance_type", sa.String(length=3), nullable=False),
        sa.Column("insured_area", sa.String(length=6), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


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


def upgrade() -> None:
    op.create_table(
        "identity_declarations",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        *_identity_columns(),
        sa.CheckConstraint(
            "insurance_type IN ('310','390')",
            name=op.f("ck_identity_declarations_insurance_type"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_identity_declarations_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_declarations")),
        sa.UniqueConstraint("patient_id", "idempotency_key", name="uq_identity_declarations_key"),
    )
    with op.batch_alter_table("identity_declarations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_declarations_national_id_index"),
            ["national_id_index"],
            unique=False,
        )
        batch_op.create_index(
            "ix_identity_declarations_patient_declared",
            ["patient_id", "declared_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_identity_declarations_review",
            ["declared_at"],
            unique=False,
            sqlite_where=sa.text("needs_review IS TRUE"),
            postgresql_where=sa.text("needs_review IS TRUE"),
        )

    op.create_table(
        "insured_identities",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("supersedes_id", sa.Uuid(), nullable=True),
        sa.Column("personal_account", sa.Boolean(), nullable=False),
        sa.Column("personal_account_balance_fen", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_reference", sa.String(length=64), nullable=True),
        sa.Column("verified_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        *_identity_columns(),
        sa.CheckConstraint(
            "insurance_type IN ('310','390')", name=op.f("ck_insured_identities_insurance_type")
        ),
        sa.CheckConstraint(
            "source IN ('staff','insurer_platform')", name=op.f("ck_insured_identities_source")
        ),
        sa.CheckConstraint(
            "personal_account IS FALSE OR insurance_type = '310'",
            name=op.f("ck_insured_identities_account_only_employees"),
        ),
        sa.CheckConstraint(
            "personal_account_balance_fen >= 0 AND "
            "(personal_account IS TRUE OR personal_account_balance_fen = 0)",
            name=op.f("ck_insured_identities_account_balance"),
        ),
        sa.CheckConstraint(
            "source <> 'staff' OR verified_by_account_id IS NOT NULL",
            name=op.f("ck_insured_identities_staff_named"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_insured_identities_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["insured_identities.id"],
            name=op.f("fk_insured_identities_supersedes_id_insured_identities"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_insured_identities_verified_by_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insured_identities")),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_insured_identities_supersedes_id")),
    )
    with op.batch_alter_table("insured_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insured_identities_national_id_index"),
            ["national_id_index"],
            unique=False,
        )
        batch_op.create_index(
            "ix_insured_identities_patient", ["patient_id", "verified_at"], unique=False
        )
        batch_op.create_index(
            "uq_insured_identities_first",
            ["patient_id"],
            unique=True,
            sqlite_where=sa.text("supersedes_id IS NULL"),
            postgresql_where=sa.text("supersedes_id IS NULL"),
        )
    op.create_table(
        "entitlement_identities",
        sa.Column("entitlement_id", sa.Uuid(), nullable=False),
        sa.Column("insured_identity_id", sa.Uuid(), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bound_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_entitlement_identities_bound_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_entitlement_identities_entitlement_id_entitlements"),
        ),
        sa.ForeignKeyConstraint(
            ["insured_identity_id"],
            ["insured_identities.id"],
            name=op.f("fk_entitlement_identities_insured_identity_id_insured_identities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_identities")),
        sa.UniqueConstraint(
            "entitlement_id", "insured_identity_id", name="uq_entitlement_identities_pair"
        ),
    )
    with op.batch_alter_table("entitlement_identities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entitlement_identities_entitlement",
            ["entitlement_id", "bound_at"],
            unique=False,
        )
    _create_append_only_triggers()

    # Plain ADD COLUMN (no table rebuild on SQLite): the settlement tables carry append-only
    # triggers that a rebuild would lose. SQLite takes the REFERENCES clause inline only.
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in CLAIM_TABLES:
        if sqlite:
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN insured_identity_id CHAR(32) "
                "REFERENCES insured_identities (id)"
            )
            continue
        op.add_column(table, sa.Column("insured_identity_id", sa.Uuid(), nullable=True))
        op.create_foreign_key(
            op.f(f"fk_{table}_insured_identity_id_insured_identities"),
            table,
            "insured_identities",
            ["insured_identity_id"],
            ["id"],
        )
    for table in CLAIM_TABLES:
        op.create_index(
            op.f(f"ix_{table}_insured_identity_id"), table, ["insured_identity_id"], unique=False
        )
    op.add_column(
        "pharmacy_orders",
        sa.Column(
            "pay_from_personal_account", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("pharmacy_orders", schema=None) as batch_op:
        batch_op.drop_column("pay_from_personal_account")
    for table in CLAIM_TABLES:
        op.drop_index(op.f(f"ix_{table}_insured_identity_id"), table_name=table)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in CLAIM_TABLES:
        if sqlite:
            # Plain DROP COLUMN, no rebuild: the settlement tables keep their triggers.
            op.execute(f"ALTER TABLE {table} DROP COLUMN insured_identity_id")
            continue
        op.drop_constraint(
            op.f(f"fk_{table}_insured_identity_id_insured_identities"), table, type_="foreignkey"
        )
        op.drop_column(table, "insured_identity_id")
    op.drop_table("entitlement_identities")
    op.drop_table("insured_identities")
    op.drop_table("identity_declarations")
