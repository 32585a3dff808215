"""reading partition lock: `create_reading_partitions` locks `readings` against writes before
it moves a month's rows out of the default partition

A month created while an upload into it was still open failed: the move did not see the
uncommitted row, the new partition waited for the upload, and once it committed PostgreSQL
refused the partition ("updated partition constraint for default partition would be violated");
an upload re-sending a row being moved could deadlock with it instead. Taking SHARE ROW
EXCLUSIVE on `readings` first (it conflicts with every insert's ROW EXCLUSIVE) lets open uploads
finish, so their rows move too, holds new ones back until the month exists, and makes a
concurrent creator of the same month wait and then skip it.

Revision ID: 0028_reading_partition_lock
Revises: 0027_whole_catalogue
Create Date: 2026-12-07 07:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0028_reading_partition_lock"
down_revision: str | None = "0027_whole_catalogue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION create_reading_partitions(first_month date, months integer)
RETURNS integer AS $$
DECLARE
    lower_bound timestamptz;
    upper_bound timestamptz;
    name text;
    created integer := 0;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        lower_bound := (date_trunc('month', first_month) + make_interval(months => i))::date
            AT TIME ZONE 'UTC';
        upper_bound := (date_trunc('month', first_month) + make_interval(months => i + 1))::date
            AT TIME ZONE 'UTC';
        name := 'readings_p' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYYMM');
        CONTINUE WHEN to_regclass('reading_partitions.' || name) IS NOT NULL;{lock}
        -- Rows that landed in the default partition for this month move to the new one.
        EXECUTE format(
            'CREATE TEMP TABLE reading_partition_move ON COMMIT DROP AS '
            'WITH moved AS (DELETE FROM reading_partitions.readings_default '
            'WHERE measured_at >= %L AND measured_at < %L RETURNING *) SELECT * FROM moved',
            lower_bound, upper_bound);
        EXECUTE format(
            'CREATE TABLE reading_partitions.%I PARTITION OF readings '
            'FOR VALUES FROM (%L) TO (%L)', name, lower_bound, upper_bound);
        INSERT INTO readings SELECT * FROM reading_partition_move;
        DROP TABLE reading_partition_move;
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$$ LANGUAGE plpgsql
"""

# No write to `readings` runs from here to the commit; then look again, since another
# creator of this month may have committed while this one waited for the lock.
_LOCK = """
        LOCK TABLE readings IN SHARE ROW EXCLUSIVE MODE;
        CONTINUE WHEN to_regclass('reading_partitions.' || name) IS NOT NULL;"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.replace("{lock}", _LOCK))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION.replace("{lock}", ""))
