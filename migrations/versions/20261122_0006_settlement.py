"""settlement: benefit rules, quotas, settlements, the ledger, statements and payments

Revision ID: 0006_settlement
Revises: 0005_pharmacy
Create Date: 2026-11-22 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_settlement"
down_revision: str | None = "0005_pharmacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Settled history is never rewritten: these tables refuse UPDATE and DELETE in the database.
APPEND_ONLY = (
    "insurance_benefit_rules",
    "insurance_settlements",
    "insurance_settlement_items",
    "insurance_ledger_entries",
)

_PG_APPEND_ONLY_FUNCTION = (
    "CREATE FUNCTION insurance_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
)
# Checked at commit: every ledger transaction sums to zero across its accounts.
_PG_BALANCED_FUNCTION = (
    "CREATE FUNCTION insurance_ledger_balanced() RETURNS trigger AS $$ "
    "BEGIN IF (SELECT COALESCE(SUM(amount_fen), 0) FROM insurance_ledger_entries "
    "WHERE transaction_id = NEW.transaction_id) <> 0 THEN "
    "RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id; END IF; "
    "RETURN NULL; END; $$ LANGUAGE plpgsql"
)
_PG_BALANCED_TRIGGER = (
    "CREATE CONSTRAINT TRIGGER insurance_ledger_balanced AFTER INSERT ON insurance_ledger_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION insurance_ledger_balanced()"
)


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY_FUNCTION)
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION insurance_append_only()"
            )
        op.execute(_PG_BALANCED_FUNCTION)
        op.execute(_PG_BALANCED_TRIGGER)
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER insurance_ledger_balanced ON insurance_ledger_entries")
        op.execute("DROP FUNCTION insurance_ledger_balanced()")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION insurance_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{action}")


def upgrade() -> None:
    op.create_table(
        "insurance_benefit_rules",
        sa.Column("insurance_type", sa.String(length=3), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("institution_level", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("deductible_fen", sa.BigInteger(), nullable=False),
        sa.Column("reimbursement_bp", sa.Integer(), nullable=False),
        sa.Column("partial_prepay_bp", sa.Integer(), nullable=False),
        sa.Column("annual_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "institution_level IN ('secondary','tertiary')",
            name=op.f("ck_insurance_benefit_rules_institution_level"),
        ),
        sa.CheckConstraint(
            "insurance_type IN ('310','390')",
            name=op.f("ck_insurance_benefit_rules_insurance_type"),
        ),
        sa.CheckConstraint(
            "annual_limit_fen >= 0", name=op.f("ck_insurance_benefit_rules_limit_not_negative")
        ),
        sa.CheckConstraint(
            "deductible_fen >= 0", name=op.f("ck_insurance_benefit_rules_deductible_not_negative")
        ),
        sa.CheckConstraint(
            "partial_prepay_bp BETWEEN 0 AND 10000",
            name=op.f("ck_insurance_benefit_rules_partial_prepay_bp"),
        ),
        sa.CheckConstraint(
            "reimbursement_bp BETWEEN 0 AND 10000",
            name=op.f("ck_insurance_benefit_rules_reimbursement_bp"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_benefit_rules_created_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_insurance_benefit_rules_disease_id_chronic_diseases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_benefit_rules")),
        sa.UniqueConstraint(
            "insurance_type",
            "disease_id",
            "institution_level",
            "year",
            "version",
            name="uq_insurance_benefit_rules_version",
        ),
    )
    with op.batch_alter_table("insurance_benefit_rules", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insurance_benefit_rules_key",
            ["insurance_type", "disease_id", "institution_level", "year", "effective_from"],
            unique=False,
        )
    op.create_table(
        "insurance_presettlements",
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("insurance_type", sa.String(length=3), nullable=False),
        sa.Column("med_type", sa.String(length=4), nullable=False),
        sa.Column("benefit_rule_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("service_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("personal_fen", sa.BigInteger(), nullable=False),
        sa.Column("account_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("self_pay_fen", sa.BigInteger(), nullable=False),
        sa.Column("partial_prepay_fen", sa.BigInteger(), nullable=False),
        sa.Column("deductible_fen", sa.BigInteger(), nullable=False),
        sa.Column("copay_fen", sa.BigInteger(), nullable=False),
        sa.Column("over_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("limit_remaining_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "personal_fen = account_fen + cash_fen",
            name=op.f("ck_insurance_presettlements_personal_split"),
        ),
        sa.CheckConstraint(
            "total_fen = fund_fen + personal_fen",
            name=op.f("ck_insurance_presettlements_total_split"),
        ),
        sa.ForeignKeyConstraint(
            ["benefit_rule_id"],
            ["insurance_benefit_rules.id"],
            name=op.f("fk_insurance_presettlements_benefit_rule_id_insurance_benefit_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_insurance_presettlements_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_insurance_presettlements_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_insurance_presettlements_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["pharmacy_stores.id"],
            name=op.f("fk_insurance_presettlements_store_id_pharmacy_stores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_presettlements")),
        sa.UniqueConstraint("message_id", name=op.f("uq_insurance_presettlements_message_id")),
    )
    with op.batch_alter_table("insurance_presettlements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_insurance_presettlements_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_presettlements_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "insurance_quota_diseases",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("limit_used_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "limit_used_fen >= 0", name=op.f("ck_insurance_quota_diseases_limit_used")
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_insurance_quota_diseases_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_insurance_quota_diseases_patient_id_patients"),
        ),
        sa.PrimaryKeyConstraint(
            "patient_id", "year", "disease_id", name=op.f("pk_insurance_quota_diseases")
        ),
    )
    op.create_table(
        "insurance_quotas",
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("deductible_met_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "deductible_met_fen >= 0", name=op.f("ck_insurance_quotas_deductible_met")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_insurance_quotas_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", "year", name=op.f("pk_insurance_quotas")),
    )
    op.create_table(
        "insurance_settlements",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("reverses_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("store_id", sa.Uuid(), nullable=True),
        sa.Column("disease_id", sa.Uuid(), nullable=False),
        sa.Column("insurance_type", sa.String(length=3), nullable=False),
        sa.Column("med_type", sa.String(length=4), nullable=False),
        sa.Column("benefit_rule_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("service_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("personal_fen", sa.BigInteger(), nullable=False),
        sa.Column("account_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column("self_pay_fen", sa.BigInteger(), nullable=False),
        sa.Column("partial_prepay_fen", sa.BigInteger(), nullable=False),
        sa.Column("deductible_fen", sa.BigInteger(), nullable=False),
        sa.Column("copay_fen", sa.BigInteger(), nullable=False),
        sa.Column("over_limit_fen", sa.BigInteger(), nullable=False),
        sa.Column("limit_remaining_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "(kind = 'settlement' AND reverses_id IS NULL) OR (kind = 'reversal' AND reverses_id IS NOT NULL)",
            name=op.f("ck_insurance_settlements_reversal_refers"),
        ),
        sa.CheckConstraint(
            "kind IN ('settlement','reversal')", name=op.f("ck_insurance_settlements_kind")
        ),
        sa.CheckConstraint(
            "personal_fen = account_fen + cash_fen",
            name=op.f("ck_insurance_settlements_personal_split"),
        ),
        sa.CheckConstraint(
            "total_fen = fund_fen + personal_fen", name=op.f("ck_insurance_settlements_total_split")
        ),
        sa.ForeignKeyConstraint(
            ["benefit_rule_id"],
            ["insurance_benefit_rules.id"],
            name=op.f("fk_insurance_settlements_benefit_rule_id_insurance_benefit_rules"),
        ),
        sa.ForeignKeyConstraint(
            ["disease_id"],
            ["chronic_diseases.id"],
            name=op.f("fk_insurance_settlements_disease_id_chronic_diseases"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_insurance_settlements_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_insurance_settlements_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_settlements_reverses_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["pharmacy_stores.id"],
            name=op.f("fk_insurance_settlements_store_id_pharmacy_stores"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_settlements")),
        sa.UniqueConstraint("message_id", name=op.f("uq_insurance_settlements_message_id")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_insurance_settlements_reverses_id")),
    )
    with op.batch_alter_table("insurance_settlements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insurance_settlements_institution_time",
            ["institution_id", "settled_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_settlements_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_settlements_patient_id"), ["patient_id"], unique=False
        )
    op.create_table(
        "insurance_statements",
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settlement_count", sa.Integer(), nullable=False),
        sa.Column("reversal_count", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("fund_fen", sa.BigInteger(), nullable=False),
        sa.Column("account_fen", sa.BigInteger(), nullable=False),
        sa.Column("cash_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "breakdown",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("payment_reference", sa.String(length=64), nullable=True),
        sa.Column("paid_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "status IN ('generated','confirmed','paid')",
            name=op.f("ck_insurance_statements_status"),
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_statements_confirmed_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["generated_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_statements_generated_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_insurance_statements_institution_id_institutions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_statements")),
        sa.UniqueConstraint(
            "institution_id", "month", name="uq_insurance_statements_institution_month"
        ),
    )
    op.create_table(
        "insurance_settlement_flags",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("reviewer_name", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "role IN ('doctor','bureau')", name=op.f("ck_insurance_settlement_flags_role")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_insurance_settlement_flags_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_settlement_flags_settlement_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_settlement_flags")),
    )
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.create_index(
            "uq_insurance_settlement_flags_reviewer", ["settlement_id", "account_id"], unique=True
        )
    op.create_table(
        "insurance_settlement_items",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("drug_id", sa.Uuid(), nullable=False),
        sa.Column("national_code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("insurance_class", sa.String(length=16), nullable=False),
        sa.Column("self_pay_fen", sa.BigInteger(), nullable=False),
        sa.Column("partial_prepay_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "insurance_class IN ('full','partial','self_pay')",
            name=op.f("ck_insurance_settlement_items_insurance_class"),
        ),
        sa.CheckConstraint(
            "quantity > 0", name=op.f("ck_insurance_settlement_items_quantity_positive")
        ),
        sa.CheckConstraint(
            "unit_price_fen >= 0", name=op.f("ck_insurance_settlement_items_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["drug_id"], ["drugs.id"], name=op.f("fk_insurance_settlement_items_drug_id_drugs")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_settlement_items_settlement_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint(
            "settlement_id", "line_no", name=op.f("pk_insurance_settlement_items")
        ),
    )
    op.create_table(
        "insurance_statement_lines",
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_statement_lines_settlement_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_statement_lines_statement_id_insurance_statements"),
        ),
        sa.PrimaryKeyConstraint(
            "statement_id", "settlement_id", name=op.f("pk_insurance_statement_lines")
        ),
        sa.UniqueConstraint(
            "settlement_id", name=op.f("uq_insurance_statement_lines_settlement_id")
        ),
    )
    op.create_table(
        "payments",
        sa.Column("settlement_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("provider_transaction_id", sa.String(length=64), nullable=True),
        sa.Column("collected_by_account_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('cash','card','wechat','alipay')", name=op.f("ck_payments_method")
        ),
        sa.CheckConstraint(
            "status IN ('pending','succeeded','closed')", name=op.f("ck_payments_status")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["collected_by_account_id"],
            ["accounts.id"],
            name=op.f("fk_payments_collected_by_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_payments_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_payments_settlement_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "method", "provider_transaction_id", name="uq_payments_provider_transaction"
        ),
        sa.UniqueConstraint("out_trade_no", name=op.f("uq_payments_out_trade_no")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_payments_settlement_id"), ["settlement_id"], unique=False
        )
    op.create_table(
        "insurance_ledger_entries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Uuid(), nullable=True),
        sa.Column("settlement_id", sa.Uuid(), nullable=True),
        sa.Column("payment_id", sa.Uuid(), nullable=True),
        sa.Column("statement_id", sa.Uuid(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('settlement','reversal','payment','refund','remittance')",
            name=op.f("ck_insurance_ledger_entries_kind"),
        ),
        sa.CheckConstraint(
            "amount_fen <> 0", name=op.f("ck_insurance_ledger_entries_amount_not_zero")
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_insurance_ledger_entries_institution_id_institutions"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_insurance_ledger_entries_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_insurance_ledger_entries_payment_id_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_insurance_ledger_entries_settlement_id_insurance_settlements"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["insurance_statements.id"],
            name=op.f("fk_insurance_ledger_entries_statement_id_insurance_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_insurance_ledger_entries")),
    )
    with op.batch_alter_table("insurance_ledger_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_insurance_ledger_entries_institution_time",
            ["institution_id", "posted_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_ledger_entries_settlement_id"), ["settlement_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_insurance_ledger_entries_transaction_id"),
            ["transaction_id"],
            unique=False,
        )
    op.create_table(
        "payment_refunds",
        sa.Column("payment_id", sa.Uuid(), nullable=False),
        sa.Column("reversal_id", sa.Uuid(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("out_refund_no", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('requested','succeeded')", name=op.f("ck_payment_refunds_status")
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_payment_refunds_amount_positive")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_refunds_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["reversal_id"],
            ["insurance_settlements.id"],
            name=op.f("fk_payment_refunds_reversal_id_insurance_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_refunds")),
        sa.UniqueConstraint("out_refund_no", name=op.f("uq_payment_refunds_out_refund_no")),
    )
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_refunds_payment_id"), ["payment_id"], unique=False
        )
    _create_append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    with op.batch_alter_table("payment_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_refunds_payment_id"))
    op.drop_table("payment_refunds")
    with op.batch_alter_table("insurance_ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_ledger_entries_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_ledger_entries_settlement_id"))
        batch_op.drop_index("ix_insurance_ledger_entries_institution_time")
    op.drop_table("insurance_ledger_entries")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_settlement_id"))
        batch_op.drop_index(batch_op.f("ix_payments_patient_id"))
    op.drop_table("payments")
    op.drop_table("insurance_statement_lines")
    op.drop_table("insurance_settlement_items")
    with op.batch_alter_table("insurance_settlement_flags", schema=None) as batch_op:
        batch_op.drop_index("uq_insurance_settlement_flags_reviewer")
    op.drop_table("insurance_settlement_flags")
    op.drop_table("insurance_statements")
    with op.batch_alter_table("insurance_settlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_settlements_patient_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_settlements_order_id"))
        batch_op.drop_index("ix_insurance_settlements_institution_time")
    op.drop_table("insurance_settlements")
    op.drop_table("insurance_quotas")
    op.drop_table("insurance_quota_diseases")
    with op.batch_alter_table("insurance_presettlements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_insurance_presettlements_patient_id"))
        batch_op.drop_index(batch_op.f("ix_insurance_presettlements_order_id"))
    op.drop_table("insurance_presettlements")
    with op.batch_alter_table("insurance_benefit_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_insurance_benefit_rules_key")
    op.drop_table("insurance_benefit_rules")
