"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def _limit_lock_waits() -> None:
    # A DDL statement queued behind a long transaction blocks every query that comes after it
    # on that table: on PostgreSQL, give up after 5 s (the deploy fails and is retried) rather
    # than stall the service. SET LOCAL ends with the migration's transaction.
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")


def upgrade() -> None:
    _limit_lock_waits()
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    _limit_lock_waits()
    ${downgrades if downgrades else "pass"}
