"""Migration files sort in the order they run, and new ones come from a template that bounds
lock waits on PostgreSQL (alembic.ini's file_template, migrations/script.py.mako)."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from app.health.migrations_state import alembic_config

# The first migration kept its generated revision id (databases record it); only its file was
# renamed to sort first.
FOUNDATION = "149c8ee6abec"
FILE_NAME = re.compile(r"^(?P<date>\d{8})_(?P<number>\d{4})_(?P<slug>[a-z0-9_]+)\.py$")


def _chain(script: ScriptDirectory) -> list[tuple[str, Path]]:
    """(revision id, file) from the first migration to the head."""
    revisions = list(script.walk_revisions("base", "heads"))
    revisions.reverse()
    return [(r.revision, Path(r.path)) for r in revisions]


def test_migration_files_sort_in_revision_order() -> None:
    chain = _chain(ScriptDirectory.from_config(alembic_config()))
    files = [path.name for _, path in chain]
    assert files == sorted(files)


def test_migration_files_are_named_date_number_revision() -> None:
    chain = _chain(ScriptDirectory.from_config(alembic_config()))
    previous = 0
    for revision, path in chain:
        match = FILE_NAME.match(path.name)
        assert match, f"{path.name}: name it YYYYMMDD_NNNN_slug.py"
        # Numbers grow along the chain (a number given to a branch never merged leaves a gap).
        assert int(match["number"]) > previous, f"{path.name}: number after {previous:04d}"
        previous = int(match["number"])
        if revision != FOUNDATION:
            assert path.name == f"{match['date']}_{revision}.py"


@pytest.fixture
def scratch_migrations(tmp_path: Path) -> Path:
    """A copy of migrations/ to add revisions to."""
    source = Path(alembic_config().get_main_option("script_location") or "migrations")
    target = tmp_path / "migrations"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _offline_sql(location: Path, url: str, revisions: str) -> str:
    config = alembic_config(url)
    config.set_main_option("script_location", str(location))
    config.attributes["configure_logging"] = False
    out = io.StringIO()
    config.output_buffer = out
    command.upgrade(config, revisions, sql=True)
    return out.getvalue()


def test_a_new_revision_sorts_last_and_bounds_lock_waits_on_postgresql(
    scratch_migrations: Path,
) -> None:
    config = alembic_config()
    config.set_main_option("script_location", str(scratch_migrations))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    newest = _chain(ScriptDirectory.from_config(config))[-1][1].name
    number = int(newest.split("_")[1]) + 1
    with contextlib.redirect_stdout(io.StringIO()):
        command.revision(config, message="probe", rev_id=f"{number:04d}_probe")

    chain = _chain(ScriptDirectory.from_config(config))
    assert chain[-1][0] == f"{number:04d}_probe"
    files = [path.name for _, path in chain]
    assert files == sorted(files)

    span = f"{head}:{number:04d}_probe"
    on_postgres = _offline_sql(scratch_migrations, "postgresql+asyncpg://u@h/db", span)
    assert "SET LOCAL lock_timeout = '5s'" in on_postgres
    on_sqlite = _offline_sql(scratch_migrations, "sqlite+aiosqlite:///x.db", span)
    assert "lock_timeout" not in on_sqlite
