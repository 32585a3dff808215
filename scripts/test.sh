#!/usr/bin/env bash
# Sets up and runs the whole test suite (SQLite; PostgreSQL/Redis when TEST_POSTGRES_URL and
# TEST_REDIS_URL are set, as .ci/run does). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
