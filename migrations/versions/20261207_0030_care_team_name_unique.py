"""care team name unique: one team of a name per institution (a double press on "form team"
made two); teams already sharing a name keep the oldest's and the others get their id's
first eight characters appended

Revision ID: 0030_care_team_name_unique
Revises: 0029_platform_split_booked
Create Date: 2026-12-07 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_care_team_name_unique"
down_revision: str | None = "0029_platform_split_booked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

teams = sa.table(
    "care_teams",
    sa.column("id", sa.Uuid()),
    sa.column("institution_id", sa.Uuid()),
    sa.column("name", sa.String(64)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(teams.c.id, teams.c.institution_id, teams.c.name).order_by(
            teams.c.created_at, teams.c.id
        )
    ).all()
    seen: set[tuple[object, str]] = set()
    for team_id, institution_id, name in rows:
        if (institution_id, name) in seen:
            renamed = f"{name[:55]} #{team_id.hex[:8]}"
            bind.execute(teams.update().where(teams.c.id == team_id).values(name=renamed))
            name = renamed
        seen.add((institution_id, name))
    with op.batch_alter_table("care_teams") as batch:
        batch.create_unique_constraint("uq_care_teams_name", ["institution_id", "name"])


def downgrade() -> None:
    with op.batch_alter_table("care_teams") as batch:
        batch.drop_constraint("uq_care_teams_name", type_="unique")
