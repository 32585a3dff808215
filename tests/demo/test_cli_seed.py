"""The README's demo command seeds through `python -m app.cli`, a process of its own: the demo
data loads there exactly as in the service (the demo month's reversal refunds through the
wiring), and prints the demo people's credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_file


def _cli(*args: str, database: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}", "APP_ENV": "dev"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_migrate_and_seed_demo_in_a_fresh_process(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    migrated = _cli("migrate", database=database)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    seeded = _cli("seed-demo", database=database)
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert "dr.zhang" in seeded.stdout
