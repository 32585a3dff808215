#!/usr/bin/env bash
# Latency of a simple authenticated GET (/api/v1/patients/me: token check, live-session lookup,
# scoped patient read and its audit row) under wrk, against real uvicorn workers.
#
#   bash bench/authenticated_get.sh [sqlite|postgres] [workers] [connections] [seconds]
#
# Needs wrk (Debian: apt-get install wrk). PostgreSQL mode creates and drops its own database.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-postgres}
workers=${2:-2}
connections=${3:-32}
seconds=${4:-15}
port=${BENCH_PORT:-8765}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
bash scripts/bootstrap.sh

if [ "$mode" = postgres ]; then
    db="cc_bench_$$"
    psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db"
    export DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/$db"
    trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
else
    dir=$(mktemp -d)
    export DATABASE_URL="sqlite+aiosqlite:///$dir/bench.db"
    trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$dir"' EXIT
fi
export APP_ENV=dev LOG_LEVEL=WARNING OUTBOX_RELAY_ENABLED=false \
    WECHAT_API_BASE="http://127.0.0.1:$port/_dev/wechat"
.venv/bin/python -m app.cli seed-demo >/dev/null
.venv/bin/python -m uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$port" \
    --workers "$workers" --no-access-log --log-level warning &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done

code=$(curl -sf "http://127.0.0.1:$port/_dev/wechat/wx.login" -H 'content-type: application/json' \
    -d '{"openid":"demo-openid-patient-1"}' | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["code"])')
token=$(curl -sf "http://127.0.0.1:$port/api/v1/auth/wechat-login" -H 'content-type: application/json' \
    -d "{\"code\":\"$code\"}" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

echo "== $mode, $workers uvicorn workers, $connections connections, ${seconds}s"
threads=$(( connections < 2 ? connections : 2 ))
wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/patients/me"
