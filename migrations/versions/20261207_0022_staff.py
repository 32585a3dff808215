"""Staff administration: audit events carry what an act changed, stores their national
designated-pharmacy code, and the demo institutions' codes take the national 12-character form.

- `audit_events.detail` (JSON): a staff move's from and to and its reason, a suspension's
  reason. The table stays append-only (its triggers are row-level; a new column changes none).
- `pharmacy_stores.fixmedins_code`: P + 6-digit area code + 5-digit sequence, unique.
- Institution codes written by earlier demo loads in the 10-character shape (H + area code +
  3 digits) become the national 12-character form (H + area code + 5 digits) by padding the
  sequence, so a later `seed-demo` finds them instead of adding 15 more.

Revision ID: 0022_staff
Revises: 0021_insurance_platform
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_staff"
down_revision: str | None = "0021_insurance_platform"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _limit_lock_waits() -> None:
    # See 0019: a DDL statement queued behind a long transaction must not stall the service.
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")


def upgrade() -> None:
    _limit_lock_waits()
    # Plain ADD COLUMN on both databases (no table copy: the append-only triggers stay).
    op.add_column("audit_events", sa.Column("detail", sa.JSON(), nullable=True))
    op.add_column(
        "pharmacy_stores", sa.Column("fixmedins_code", sa.String(length=12), nullable=True)
    )
    op.create_index(
        "ix_pharmacy_stores_fixmedins_code", "pharmacy_stores", ["fixmedins_code"], unique=True
    )
    op.execute(
        "UPDATE institutions SET code = substr(code, 1, 7) || '00' || substr(code, 8, 3) "
        "WHERE length(code) = 10 AND code LIKE 'H1403%'"
    )


def downgrade() -> None:
    _limit_lock_waits()
    op.execute(
        "UPDATE institutions SET code = substr(code, 1, 7) || substr(code, 10, 3) "
        "WHERE length(code) = 12 AND code LIKE 'H1403%' AND substr(code, 8, 2) = '00'"
    )
    op.drop_index("ix_pharmacy_stores_fixmedins_code", table_name="pharmacy_stores")
    # Native DROP COLUMN (SQLite 3.35+): no table copy, so the audit triggers stay.
    op.drop_column("pharmacy_stores", "fixmedins_code")
    op.drop_column("audit_events", "detail")
