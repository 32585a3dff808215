#!/usr/bin/env bash
# Sets up and runs the whole test suite (SQLite; PostgreSQL/Redis when TEST_POSTGRES_URL and
# TEST_REDIS_URL are set, as .ci/run does). Extra arguments go to pytest (`-n 0` runs it in one
# process).
#
# Two pytest-xdist workers (the machine's two cores), each with its own migrated databases
# (tests/fixtures/databases.py); whole files go to one worker, so a module's server or world is
# built once (docs/decisions/0007-tests-in-parallel-with-a-migrated-template.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# The pharmacy dashboard's browser test drives Debian's Chromium through Playwright (never
# `playwright install`: it would download a browser). CJK fonts make its screenshot readable.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium for the dashboard browser test (apt-get)" >&2
        { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; } ||
            echo "could not install chromium: the dashboard browser test will be skipped" >&2
    else
        echo "chromium is missing and this is not root with apt-get: the dashboard browser" \
            "test will be skipped (install chromium to run it)" >&2
    fi
fi
# The scale-out tests start their own PgBouncer (Debian's package) in transaction mode.
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing pgbouncer for the scale-out tests (apt-get)" >&2
        { apt-get update -qq && apt-get install -y -qq pgbouncer >/dev/null; } ||
            echo "could not install pgbouncer: the scale-out tests will be skipped" >&2
    else
        echo "pgbouncer is missing and this is not root with apt-get: the scale-out tests" \
            "will be skipped (install pgbouncer to run them)" >&2
    fi
fi
exec .venv/bin/python -m pytest -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
