"""Idempotency keys are forgotten by age: an index on their creation time.

Revision ID: 0019_idempotency_prune
Revises: 0018_identity
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_idempotency_prune"
down_revision: str | None = "0018_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _limit_lock_waits() -> None:
    # A DDL statement queued behind a long transaction blocks every query that comes after it
    # on that table: on PostgreSQL, give up after 5 s (the deploy fails and is retried) rather
    # than stall the service. SET LOCAL ends with the migration's transaction.
    if op.get_context().dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")


def upgrade() -> None:
    _limit_lock_waits()
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    _limit_lock_waits()
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
