#!/usr/bin/env bash
# Sets up, migrates the embedded SQLite database, loads the demo data and serves the API on
# http://127.0.0.1:8000 (docs at /docs). Extra arguments go to `python -m app.cli serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m app.cli serve --demo "$@"
