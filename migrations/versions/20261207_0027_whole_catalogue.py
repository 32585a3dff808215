"""whole catalogue: disease categories (大类, keyed by the national code's four-character stem)
and a category per disease; the annual limit leaves the benefit rules, because it is the
catalogue's per-disease limit (按病种限额, catalogue_limits) that a claim is capped by

Existing diseases get the category of their national code's stem, named after their
`category_zh` (in both languages until the city's catalogue file is loaded again, which names
it properly). The benefit rules' own limits are dropped: settlements keep the limit that
applied (`limit_remaining_fen`), and the catalogue edition in force gives it from now on.
The downgrade restores each rule's limit from the edition in force on its first day.

Revision ID: 0027_whole_catalogue
Revises: 0026_platform_presettlement
Create Date: 2026-12-07 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_whole_catalogue"
down_revision: str | None = "0026_platform_presettlement"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_chronic_diseases_category_code_disease_categories"
_INDEX = "ix_chronic_diseases_category_code"
_LIMIT_CHECK = "ck_insurance_benefit_rules_limit_not_negative"


def _on_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _sqlite_schema(table: str) -> str:
    sql: str = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        )
        .scalar_one()
    )
    return sql


def _edit_sqlite_table(table: str, old: str, new: str) -> None:
    """Edit a table's stored schema text in place: SQLite's documented procedure for
    constraint changes that leave the stored rows valid
    (https://www.sqlite.org/lang_altertable.html#otheralter). Rebuilding the table (batch
    mode) fails while other tables refer to its rows."""
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    sql = _sqlite_schema(table)
    assert old in sql, f"{table} has an unexpected schema"
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
        (sql.replace(old, new), table),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.create_table(
        "disease_categories",
        sa.Column("code", sa.String(length=4), nullable=False),
        sa.Column("name_zh", sa.String(length=32), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.CheckConstraint("length(code) = 4", name=op.f("ck_disease_categories_code_length")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_disease_categories")),
    )
    op.execute(
        "INSERT INTO disease_categories (code, name_zh, name_en) "
        "SELECT substr(national_code, 1, 4), min(category_zh), min(category_zh) "
        "FROM chronic_diseases GROUP BY substr(national_code, 1, 4)"
    )
    if _on_sqlite():
        # SQLite adds a referencing column only as nullable; NOT NULL goes into the stored
        # schema once every row has its value.
        op.execute(
            "ALTER TABLE chronic_diseases ADD COLUMN category_code VARCHAR(4) "
            f"CONSTRAINT {_FK} REFERENCES disease_categories (code)"
        )
        op.execute("UPDATE chronic_diseases SET category_code = substr(national_code, 1, 4)")
        _edit_sqlite_table(
            "chronic_diseases",
            "category_code VARCHAR(4) CONSTRAINT",
            "category_code VARCHAR(4) NOT NULL CONSTRAINT",
        )
        op.execute("ALTER TABLE chronic_diseases DROP COLUMN category_zh")
        # A table CHECK naming the column keeps SQLite from dropping it (a column CHECK, as a
        # downgrade leaves it, goes with the column).
        table_check = f", \n\tCONSTRAINT {_LIMIT_CHECK} CHECK (annual_limit_fen >= 0)"
        if table_check in _sqlite_schema("insurance_benefit_rules"):
            _edit_sqlite_table("insurance_benefit_rules", table_check, "")
        op.execute("ALTER TABLE insurance_benefit_rules DROP COLUMN annual_limit_fen")
    else:
        op.add_column(
            "chronic_diseases", sa.Column("category_code", sa.String(length=4), nullable=True)
        )
        op.execute("UPDATE chronic_diseases SET category_code = substr(national_code, 1, 4)")
        op.alter_column("chronic_diseases", "category_code", nullable=False)
        op.create_foreign_key(
            op.f(_FK), "chronic_diseases", "disease_categories", ["category_code"], ["code"]
        )
        op.drop_column("chronic_diseases", "category_zh")
        op.drop_constraint(op.f(_LIMIT_CHECK), "insurance_benefit_rules", type_="check")
        op.drop_column("insurance_benefit_rules", "annual_limit_fen")
    op.create_index(op.f(_INDEX), "chronic_diseases", ["category_code"], unique=False)


# The limit a rule had: its disease's, for its insurance type, in the catalogue edition in
# force on the rule's first day (0 when no edition listed it then).
_RULE_LIMIT = (
    "UPDATE insurance_benefit_rules SET annual_limit_fen = COALESCE(("
    "SELECT l.annual_limit_fen FROM catalogue_limits l "
    "JOIN catalogue_editions e ON e.id = l.edition_id "
    "WHERE l.disease_id = insurance_benefit_rules.disease_id "
    "AND l.insurance_type = insurance_benefit_rules.insurance_type "
    "AND e.effective_from <= insurance_benefit_rules.effective_from "
    "ORDER BY e.effective_from DESC LIMIT 1), 0)"
)


def _restore_rule_limits() -> None:
    """Fill the restored column; the rules' append-only trigger steps aside for it."""
    if _on_sqlite():
        op.execute("DROP TRIGGER insurance_benefit_rules_no_update")
        op.execute(_RULE_LIMIT)
        op.execute(
            "CREATE TRIGGER insurance_benefit_rules_no_update BEFORE UPDATE ON "
            "insurance_benefit_rules BEGIN SELECT RAISE(ABORT, "
            "'insurance_benefit_rules is append-only'); END"
        )
        return
    trigger = "insurance_benefit_rules_append_only"
    op.execute(f"ALTER TABLE insurance_benefit_rules DISABLE TRIGGER {trigger}")
    op.execute(_RULE_LIMIT)
    op.execute(f"ALTER TABLE insurance_benefit_rules ENABLE TRIGGER {trigger}")


def downgrade() -> None:
    op.drop_index(op.f(_INDEX), table_name="chronic_diseases")
    if _on_sqlite():
        op.execute(
            "ALTER TABLE insurance_benefit_rules ADD COLUMN annual_limit_fen BIGINT NOT NULL "
            f"DEFAULT 0 CONSTRAINT {_LIMIT_CHECK} CHECK (annual_limit_fen >= 0)"
        )
        _restore_rule_limits()
        op.execute(
            "ALTER TABLE chronic_diseases ADD COLUMN category_zh VARCHAR(32) NOT NULL DEFAULT ''"
        )
        op.execute(
            "UPDATE chronic_diseases SET category_zh = (SELECT name_zh FROM disease_categories "
            "WHERE disease_categories.code = chronic_diseases.category_code)"
        )
        _edit_sqlite_table(
            "chronic_diseases",
            f"category_code VARCHAR(4) NOT NULL CONSTRAINT {_FK} "
            "REFERENCES disease_categories (code)",
            "category_code VARCHAR(4)",
        )
        op.execute("ALTER TABLE chronic_diseases DROP COLUMN category_code")
    else:
        op.add_column(
            "insurance_benefit_rules",
            sa.Column("annual_limit_fen", sa.BigInteger(), nullable=False, server_default="0"),
        )
        _restore_rule_limits()
        op.alter_column("insurance_benefit_rules", "annual_limit_fen", server_default=None)
        op.create_check_constraint(
            op.f(_LIMIT_CHECK), "insurance_benefit_rules", "annual_limit_fen >= 0"
        )
        op.add_column(
            "chronic_diseases",
            sa.Column("category_zh", sa.String(length=32), nullable=False, server_default=""),
        )
        op.execute(
            "UPDATE chronic_diseases SET category_zh = disease_categories.name_zh "
            "FROM disease_categories WHERE disease_categories.code = chronic_diseases.category_code"
        )
        op.alter_column("chronic_diseases", "category_zh", server_default=None)
        op.drop_constraint(op.f(_FK), "chronic_diseases", type_="foreignkey")
        op.drop_column("chronic_diseases", "category_code")
    op.drop_table("disease_categories")
