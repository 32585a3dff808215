"""disease course: the year of diagnosis on enrollment applications (declared by the patient,
confirmed by the reviewer), which the assignment weighs as the disease course (病程)

Revision ID: 0024_disease_course
Revises: 0023_push_grants
Create Date: 2026-12-07 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_disease_course"
down_revision: str | None = "0023_push_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_CHECK = "ck_enrollment_applications_diagnosed_year_plausible"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "enrollment_applications", sa.Column("diagnosed_year", sa.Integer(), nullable=True)
        )
        op.create_check_constraint(
            op.f(_CHECK), "enrollment_applications", "diagnosed_year >= 1900"
        )
        return
    # SQLite adds a column with its own CHECK in place; rebuilding the table (batch mode) would
    # fail while entitlements and records refer to its rows.
    op.execute(
        "ALTER TABLE enrollment_applications ADD COLUMN diagnosed_year INTEGER "
        f"CONSTRAINT {_CHECK} CHECK (diagnosed_year >= 1900)"
    )


def downgrade() -> None:
    # Dropping the column drops its check too (PostgreSQL, and SQLite for a column constraint).
    op.execute("ALTER TABLE enrollment_applications DROP COLUMN diagnosed_year")
