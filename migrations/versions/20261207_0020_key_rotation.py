"""Field-key rotation reaches the append-only identity tables.

Their rows are never changed, but their encrypted certificate number must be re-encrypted when
the field key is rotated (or the old key could never be retired). PostgreSQL: the append-only
trigger admits an UPDATE that changes only the named encrypted columns, and only inside a
transaction that declared a key rotation (`SET LOCAL app.rotating_field_keys = 'on'`, as
app/kit/key_rotation.py does). SQLite (the embedded development database): the trigger fires
on updates of every other column.

Revision ID: 0020_key_rotation
Revises: 0019_idempotency_prune
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_key_rotation"
down_revision: str | None = "0019_idempotency_prune"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only tables with encrypted columns, and those columns.
ENCRYPTED = {"identity_declarations": ("national_id",), "insured_identities": ("national_id",)}

ROTATION_FUNCTION = """
CREATE FUNCTION append_only_but_key_rotation() RETURNS trigger AS $$
DECLARE
    column_name text;
    new_row jsonb := to_jsonb(NEW);
    old_row jsonb := to_jsonb(OLD);
BEGIN
    IF TG_OP = 'UPDATE'
       AND coalesce(current_setting('app.rotating_field_keys', true), '') = 'on' THEN
        FOREACH column_name IN ARRAY TG_ARGV LOOP
            new_row := new_row - column_name;
            old_row := old_row - column_name;
        END LOOP;
        IF new_row = old_row THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$ LANGUAGE plpgsql
"""


def _limit_lock_waits() -> None:
    # A DDL statement queued behind a long transaction blocks every query that comes after it
    # on that table: on PostgreSQL, give up after 5 s (the deploy fails and is retried) rather
    # than stall the service. SET LOCAL ends with the migration's transaction.
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")


def _sqlite_update_trigger(table: str, except_encrypted: bool) -> None:
    columns = [c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)]
    watched = [c for c in columns if not (except_encrypted and c in ENCRYPTED[table])]
    op.execute(f"DROP TRIGGER {table}_no_update")
    op.execute(
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OF {', '.join(watched)} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    )


def upgrade() -> None:
    _limit_lock_waits()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ROTATION_FUNCTION)
        for table, columns in ENCRYPTED.items():
            arguments = ", ".join(f"'{c}'" for c in columns)
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION append_only_but_key_rotation({arguments})"
            )
        return
    for table in ENCRYPTED:
        _sqlite_update_trigger(table, except_encrypted=True)


def downgrade() -> None:
    _limit_lock_waits()
    if op.get_bind().dialect.name == "postgresql":
        for table in ENCRYPTED:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION insurance_append_only()"
            )
        op.execute("DROP FUNCTION append_only_but_key_rotation()")
        return
    for table in ENCRYPTED:
        _sqlite_update_trigger(table, except_encrypted=False)
