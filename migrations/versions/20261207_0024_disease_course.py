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


def upgrade() -> None:
    with op.batch_alter_table("enrollment_applications") as batch:
        batch.add_column(sa.Column("diagnosed_year", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_enrollment_applications_diagnosed_year_plausible"), "diagnosed_year >= 1900"
        )


def downgrade() -> None:
    with op.batch_alter_table("enrollment_applications") as batch:
        batch.drop_constraint(
            op.f("ck_enrollment_applications_diagnosed_year_plausible"), type_="check"
        )
        batch.drop_column("diagnosed_year")
