"""platform split booked: the local settlement row books the platform's 2207 split, and the
platform's row keeps the local rules' estimate beside it (`estimate_*`)

Until now the settlement row held the estimate and the platform's row the platform's split, so
the estimate of every row settled so far is its settlement row's split.

Revision ID: 0029_platform_split_booked
Revises: 0028_reading_partition_lock
Create Date: 2026-12-07 10:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_platform_split_booked"
down_revision: str | None = "0028_reading_partition_lock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "insurance_platform_settlements"
COLUMNS = ("fund", "account", "cash")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column(TABLE, sa.Column(f"estimate_{name}_fen", sa.BigInteger(), nullable=True))
    for name in COLUMNS:
        op.execute(
            f"UPDATE {TABLE} SET estimate_{name}_fen = (SELECT s.{name}_fen FROM "  # noqa: S608 - constants of this file
            f"insurance_settlements s WHERE s.id = {TABLE}.settlement_id)"
        )
    with op.batch_alter_table(TABLE) as batch:
        for name in COLUMNS:
            batch.alter_column(
                f"estimate_{name}_fen", existing_type=sa.BigInteger(), nullable=False
            )


def downgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        for name in COLUMNS:
            batch.drop_column(f"estimate_{name}_fen")
