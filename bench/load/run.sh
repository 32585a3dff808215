#!/usr/bin/env bash
# The load test in one command: build the city (bench/load/setup.py) or top up the
# one kept from an earlier run, serve it with 2 uvicorn workers on PostgreSQL + Redis with the
# outbox relay and the background jobs on (as in production), drive it with locust headless,
# write the statistics, the CPU used and a Markdown summary to bench/load/results/, and stop
# everything.
#
#   bash bench/load/run.sh                                   # 3000 patients, 600 s measured
#   KEEP_DB=1 DURATION=90 bash bench/load/run.sh             # keep the city for more runs
#   REUSE=1 KEEP_DB=1 TIME_SCALE=4 DURATION=90 bash bench/load/run.sh
#   PATIENTS=30000 DOCTORS=150 DAYS=2 ONE_MINUTE_SHARE=0 BP_SHARE=0.5 ECG_SHARE=0.2 \
#       CHATTING=300 IN_TRANSIT=15 KEEP_DB=1 DB=chronic_pilot bash bench/load/run.sh  # the pilot
#
# Settings (environment variables):
#   DURATION    seconds measured after every simulated person has started (600)
#   USERS       simulated people (default: the whole city - a user per GROUP quiet patients'
#               phones, every chatting patient, doctor, pharmacist and courier)
#   SPAWN_RATE  people started per second (20); staff sign in as they start
#   TIME_SCALE  divide every pause and the 5-minute upload interval by this (1 = real time)
#   GROUP       quiet patients' phones per simulated user (50)
#   PATIENTS, DOCTORS, DAYS   city size for a fresh set-up (3000, 24, 3)
#   ONE_MINUTE_SHARE, BP_SHARE, ECG_SHARE   shares of patients with a one-minute CGM (0.2),
#               a BP monitor (0.3), an ECG patch (0); CHATTING patients who chat (a tenth)
#   ORDERS      new orders waiting on each store's board at the start (30)
#   IN_TRANSIT  orders out with each store's courier in a fresh city (6)
#   REUSE=1     top up the city kept by an earlier KEEP_DB=1 run instead of building one
#   KEEP_DB=1   keep the database and city file afterwards (default: drop them)
#   READS_WORKERS  0 (default): doctors' panel, summaries and charts go to the 2 workers with
#               everything else; N: to a "reads" deployment of their own, the same app on N more
#               uvicorn workers (port PORT+1, no outbox relay or background jobs), as a load
#               balancer's path rule would send them (README, "Scaling")
#   WORKER=1    the periodic jobs and the outbox relay in processes of their own
#               (`python -m app.worker`, `python -m app.outbox`), the 2 web workers without
#               them, as the README's "Scaling out" runs production; default: in the web workers
#   DB (chronic_load), PORT (8400), REDIS_URL (redis://127.0.0.1:6379/5),
#   PG_SERVER (postgresql+asyncpg://postgres@127.0.0.1:5432/postgres), TAG (result file names),
#   CITY (bench/load/city.json: the city file)
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-600}
SPAWN_RATE=${SPAWN_RATE:-20}
TIME_SCALE=${TIME_SCALE:-1}
PATIENTS=${PATIENTS:-3000}
DOCTORS=${DOCTORS:-24}
DAYS=${DAYS:-3}
ONE_MINUTE_SHARE=${ONE_MINUTE_SHARE:-0.2}
BP_SHARE=${BP_SHARE:-0.3}
ECG_SHARE=${ECG_SHARE:-0}
CHATTING=${CHATTING:-$(( PATIENTS / 10 ))}
GROUP=${GROUP:-50}
ORDERS=${ORDERS:-30}
IN_TRANSIT=${IN_TRANSIT:-6}
REUSE=${REUSE:-0}
KEEP_DB=${KEEP_DB:-0}
DB=${DB:-chronic_load}
PORT=${PORT:-8400}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5}
PG_SERVER=${PG_SERVER:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres}
CITY=${CITY:-bench/load/city.json}
READS_WORKERS=${READS_WORKERS:-0}
WORKER=${WORKER:-0}
RESULTS=bench/load/results
PY=.venv/bin/python
mkdir -p "$RESULTS"
bash scripts/bootstrap.sh
# locust is the `bench` extra, not part of the service or its tests.
[ -x .venv/bin/locust ] || $PY -m pip install -q -c constraints.txt -e ".[bench]"

server=""
reads=""
background=""
DATABASE=""  # the city's, once known
cleanup() {
    for pid in $server $reads $background; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$KEEP_DB" != 1 ]; then
        psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS \"${DATABASE:-$DB}\" WITH (FORCE)"
        rm -f "$CITY"
    fi
}
trap cleanup EXIT

if [ "$REUSE" = 1 ]; then
    $PY bench/load/setup.py --top-up --days "$DAYS" --new-orders "$ORDERS" \
        --in-transit "$IN_TRANSIT" --out "$CITY"
else
    $PY bench/load/setup.py --server "$PG_SERVER" --database "$DB" --patients "$PATIENTS" \
        --doctors "$DOCTORS" --days "$DAYS" --one-minute-share "$ONE_MINUTE_SHARE" \
        --bp-share "$BP_SHARE" --ecg-share "$ECG_SHARE" --chatting "$CHATTING" \
        --new-orders "$ORDERS" --in-transit "$IN_TRANSIT" --out "$CITY"
fi
DATABASE_URL=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["database_url"])' "$CITY")
DATABASE=$($PY -c 'import sys; from sqlalchemy.engine import make_url; print(make_url(sys.argv[1]).database)' "$DATABASE_URL")
city_people=$(LOAD_CITY=$CITY LOAD_GROUP=$GROUP $PY -c 'from bench.load.locustfile import PEOPLE; print(PEOPLE)')
USERS=${USERS:-$city_people}
TAG=${TAG:-$(date -u +%Y%m%dT%H%M%SZ)-u${USERS}-x${TIME_SCALE}}

# Every simulated person signs in and refreshes from this one address: the per-address
# sign-in limit is for a real city's many addresses (the per-username limits and lockout
# still apply).
in_web=true
[ "$WORKER" = 1 ] && in_web=false
APP_ENV=dev DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL LOG_LEVEL=WARNING \
    SIGN_IN_RATE_PER_ADDRESS=100000/minute \
    OUTBOX_RELAY_ENABLED=$in_web BACKGROUND_JOBS_ENABLED=$in_web \
    $PY -m uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$PORT" --workers 2 \
    --no-access-log --log-level warning >"$RESULTS/$TAG.server.log" 2>&1 &
server=$!
servers=$server
if [ "$WORKER" = 1 ]; then
    for module in app.worker app.outbox; do
        APP_ENV=dev DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL LOG_LEVEL=WARNING \
            $PY -m "$module" >>"$RESULTS/$TAG.server.log" 2>&1 &
        background="$background $!"
        servers="$servers,$!"
    done
fi
reads_host=""
if [ "$READS_WORKERS" -gt 0 ]; then
    APP_ENV=dev DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL LOG_LEVEL=WARNING \
        SIGN_IN_RATE_PER_ADDRESS=100000/minute \
        OUTBOX_RELAY_ENABLED=false BACKGROUND_JOBS_ENABLED=false \
        $PY -m uvicorn app.main:create_app --factory --host 127.0.0.1 --port "$(( PORT + 1 ))" \
        --workers "$READS_WORKERS" --no-access-log --log-level warning \
        >"$RESULTS/$TAG.reads.log" 2>&1 &
    reads=$!
    servers="$servers,$reads"
    reads_host="http://127.0.0.1:$(( PORT + 1 ))"
fi
for port in $PORT $([ -n "$reads" ] && echo $(( PORT + 1 ))); do
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
        sleep 0.2
    done
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null \
        || { echo "the service on port $port did not start" >&2; exit 1; }
done

# The locustfile resets the statistics once everyone has signed in and stops DURATION seconds
# later: the figures are the steady state. -t only caps a run whose sign-ins never finish.
spawn=$(( (USERS + SPAWN_RATE - 1) / SPAWN_RATE ))
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $USERS simulated people, time scale $TIME_SCALE, ${spawn}s spawning + ${DURATION}s measured"
LOAD_CITY=$CITY LOAD_TIME_SCALE=$TIME_SCALE LOAD_DURATION=$DURATION LOAD_GROUP=$GROUP \
    LOAD_SERVER_PID=$servers LOAD_READS_HOST=$reads_host LOAD_DATABASE=$DATABASE \
    LOAD_CPU_OUT="$RESULTS/$TAG.cpu.json" \
    .venv/bin/locust -f bench/load/locustfile.py --headless --host "http://127.0.0.1:$PORT" \
    -u "$USERS" -r "$SPAWN_RATE" -t "$(( 3 * spawn + DURATION + 120 ))s" --only-summary \
    --stop-timeout 10 --csv "$RESULTS/$TAG" --loglevel WARNING >"$RESULTS/$TAG.locust.log" 2>&1 \
    || true  # locust exits 1 when any request failed; the summary reports failures
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

command="DURATION=$DURATION USERS=$USERS SPAWN_RATE=$SPAWN_RATE TIME_SCALE=$TIME_SCALE GROUP=$GROUP"
[ "$READS_WORKERS" -gt 0 ] && command="$command READS_WORKERS=$READS_WORKERS"
[ "$WORKER" = 1 ] && command="$command WORKER=1"
if [ "$REUSE" = 1 ]; then
    command="$command REUSE=1"
else
    command="$command PATIENTS=$PATIENTS DOCTORS=$DOCTORS DAYS=$DAYS"
    command="$command ONE_MINUTE_SHARE=$ONE_MINUTE_SHARE BP_SHARE=$BP_SHARE ECG_SHARE=$ECG_SHARE"
    command="$command CHATTING=$CHATTING IN_TRANSIT=$IN_TRANSIT"
fi
$PY bench/load/summary.py "$RESULTS/$TAG" --city "$CITY" --users "$USERS" --group "$GROUP" \
    --time-scale "$TIME_SCALE" --command "$command bash bench/load/run.sh" \
    --load-before "$load_before" --load-after "$load_after" \
    --server-errors "$(cat "$RESULTS/$TAG.server.log" "$RESULTS/$TAG.reads.log" 2>/dev/null \
        | grep -c -E '"level": ?"(error|critical)"|Traceback' || true)" \
    >"$RESULTS/$TAG.md"
cat "$RESULTS/$TAG.md"
