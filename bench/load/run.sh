#!/usr/bin/env bash
# The load test in one command: build the city (bench/load/setup.py) or top up the
# one kept from an earlier run, serve it with 2 uvicorn workers on PostgreSQL + Redis with the
# outbox relay and the background jobs on (as in production), drive it with locust headless,
# write the statistics and a Markdown summary to bench/load/results/, and stop everything.
#
#   bash bench/load/run.sh                                   # 3000 patients, 600 s measured
#   KEEP_DB=1 DURATION=90 bash bench/load/run.sh             # keep the city for more runs
#   REUSE=1 KEEP_DB=1 TIME_SCALE=4 DURATION=90 bash bench/load/run.sh
#
# Settings (environment variables):
#   DURATION    seconds measured after every simulated person has started (600)
#   USERS       simulated people (default: the whole city - every patient, doctor, pharmacist)
#   SPAWN_RATE  people started per second (20); each signs in as it starts
#   TIME_SCALE  divide every pause and the 5-minute upload interval by this (1 = real time)
#   PATIENTS, DOCTORS, DAYS   city size for a fresh set-up (3000, 24, 3)
#   ORDERS      new orders waiting on each store's board at the start (30)
#   REUSE=1     top up the city kept by an earlier KEEP_DB=1 run instead of building one
#   KEEP_DB=1   keep the database and city file afterwards (default: drop them)
#   DB (chronic_load), PORT (8400), WECHAT_PORT (8401), REDIS_URL (redis://127.0.0.1:6379/5),
#   PG_SERVER (postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), TAG (result file names)
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-600}
SPAWN_RATE=${SPAWN_RATE:-20}
TIME_SCALE=${TIME_SCALE:-1}
PATIENTS=${PATIENTS:-3000}
DOCTORS=${DOCTORS:-24}
DAYS=${DAYS:-3}
ORDERS=${ORDERS:-30}
REUSE=${REUSE:-0}
KEEP_DB=${KEEP_DB:-0}
DB=${DB:-chronic_load}
PORT=${PORT:-8400}
WECHAT_PORT=${WECHAT_PORT:-8401}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5}
PG_SERVER=${PG_SERVER:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres}
CITY=bench/load/city.json
RESULTS=bench/load/results
PY=.venv/bin/python
mkdir -p "$RESULTS"
bash scripts/bootstrap.sh
# locust is the `bench` extra, not part of the service or its tests.
[ -x .venv/bin/locust ] || $PY -m pip install -q -c constraints.txt -e ".[bench]"

server=""
wechat=""
cleanup() {
    for pid in $server $wechat; do kill "$pid" 2>/dev/null || true; done
    for pid in $server $wechat; do wait "$pid" 2>/dev/null || true; done
    if [ "$KEEP_DB" != 1 ]; then
        psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)"
        rm -f "$CITY"
    fi
}
trap cleanup EXIT

if [ "$REUSE" = 1 ]; then
    $PY bench/load/setup.py --top-up --days "$DAYS" --new-orders "$ORDERS" --out "$CITY"
else
    $PY bench/load/setup.py --server "$PG_SERVER" --database "$DB" --patients "$PATIENTS" \
        --doctors "$DOCTORS" --days "$DAYS" --new-orders "$ORDERS" --out "$CITY"
fi
DATABASE_URL=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["database_url"])' "$CITY")
city_people=$($PY -c 'import json,sys; c=json.load(open(sys.argv[1])); print(len(c["patients"])+len(c["doctors"])+len(c["pharmacists"]))' "$CITY")
USERS=${USERS:-$city_people}
TAG=${TAG:-$(date -u +%Y%m%dT%H%M%SZ)-u${USERS}-x${TIME_SCALE}}

# One process plays WeChat for both workers (see bench/load/fake_wechat.py).
APP_ENV=dev LOG_LEVEL=WARNING $PY -m uvicorn bench.load.fake_wechat:app --host 127.0.0.1 \
    --port "$WECHAT_PORT" --no-access-log --log-level warning >"$RESULTS/$TAG.wechat.log" 2>&1 &
wechat=$!
# Every simulated person signs in from this one address: the per-address sign-in limit is
# for a real city's many addresses (the per-username limits and lockout still apply).
APP_ENV=dev DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL LOG_LEVEL=WARNING \
    SIGN_IN_RATE_PER_ADDRESS=100000/minute \
    WECHAT_API_BASE="http://127.0.0.1:$WECHAT_PORT" FAKE_WECHAT_ENABLED=false \
    OUTBOX_RELAY_ENABLED=true BACKGROUND_JOBS_ENABLED=true \
    $PY -m uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$PORT" --workers 2 \
    --no-access-log --log-level warning >"$RESULTS/$TAG.server.log" 2>&1 &
server=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null \
        && curl -s -o /dev/null "http://127.0.0.1:$WECHAT_PORT/" && break
    sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "the service did not start" >&2; exit 1; }

# The locustfile resets the statistics once everyone has signed in and stops DURATION seconds
# later: the figures are the steady state. -t only caps a run whose sign-ins never finish.
spawn=$(( (USERS + SPAWN_RATE - 1) / SPAWN_RATE ))
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $USERS simulated people, time scale $TIME_SCALE, ${spawn}s spawning + ${DURATION}s measured"
LOAD_CITY=$CITY LOAD_TIME_SCALE=$TIME_SCALE LOAD_DURATION=$DURATION \
    LOAD_WECHAT_BASE="http://127.0.0.1:$WECHAT_PORT" \
    .venv/bin/locust -f bench/load/locustfile.py --headless --host "http://127.0.0.1:$PORT" \
    -u "$USERS" -r "$SPAWN_RATE" -t "$(( 3 * spawn + DURATION + 120 ))s" --only-summary \
    --stop-timeout 10 --csv "$RESULTS/$TAG" --loglevel WARNING >"$RESULTS/$TAG.locust.log" 2>&1 \
    || true  # locust exits 1 when any request failed; the summary reports failures
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

command="DURATION=$DURATION USERS=$USERS SPAWN_RATE=$SPAWN_RATE TIME_SCALE=$TIME_SCALE"
[ "$REUSE" = 1 ] && command="$command REUSE=1" || command="$command PATIENTS=$PATIENTS DOCTORS=$DOCTORS DAYS=$DAYS"
$PY bench/load/summary.py "$RESULTS/$TAG" --city "$CITY" --users "$USERS" \
    --time-scale "$TIME_SCALE" --command "$command bash bench/load/run.sh" \
    --load-before "$load_before" --load-after "$load_after" \
    --server-errors "$(grep -c -E '"level": ?"(error|critical)"|Traceback' "$RESULTS/$TAG.server.log" || true)" \
    >"$RESULTS/$TAG.md"
cat "$RESULTS/$TAG.md"
