"""In-process CPU per request: the ASGI app called directly (no sockets, no uvicorn, no load
generator), one request at a time, counting the event-loop thread's CPU (`time.thread_time`)
and the PostgreSQL backends' (/proc utime + stime) per request. On a machine shared with other
work this moves far less than latency or whole-process figures; each kind runs `--rounds` times
in turn, so contention hits all alike.

    .venv/bin/python -m bench.request_cpu [--requests 600] [--rounds 2] [--kinds cgm1,me,bare]

Kinds: `cgm1` a phone's upload of one live CGM reading (steady state: a reading stored a minute
before, as in bench.cpu_per_request), `me` GET /api/v1/patients/me (sign-in check, one read,
audit, commit), `health` GET /healthz (middleware and routing only), `bare` the same upload to
bench/readings_quick_app.py's small-batch route, `day` a whole past day of 288 five-minute
readings (new keys: the COPY path) and `bareday` the same day to the quick app's COPY route.
CPUSAMPLE=<file> PROFILED=<kind> writes a CPU-time profile of that kind (SIGPROF every 0.5 ms
of process CPU, collapsed stacks), which unlike wall-clock samplers does not count time the
process waits for a core.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cpu_per_request import backends, cpu_seconds, prime
from bench.readings_setup import (
    DEFAULT_SERVER,
    Wearer,
    bench_database,
    bench_settings,
    seed_patients,
)


def item(device: str, at: int, n: int) -> dict[str, Any]:
    """One live CGM reading of `device` at `at` (UTC epoch seconds)."""
    return {
        "kind": "cgm",
        "device_id": device,
        "measured_at": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "utc_offset_minutes": 480,
        "value": 90.0 + (n * 7) % 80,
        "unit": "mg/dL",
    }


async def call(
    app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes]:
    """One HTTP request through the ASGI app; its status and body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


PROFILED = os.environ.get("PROFILED", "cgm1")
# The bulk kinds: the service's upload of a 288-reading day and the bare COPY endpoint's.
DAY_KINDS = ("day", "bareday")
BARE_KINDS = ("bare", "bareday")
SAMPLES: collections.Counter[str] = collections.Counter()
SAMPLING = {"on": False}


def _sample(_signum: int, frame: Any) -> None:
    if not SAMPLING["on"] or frame is None:
        return
    stack = []
    while frame is not None:
        code = frame.f_code
        stack.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    SAMPLES[";".join(reversed(stack))] += 1


def _request(
    kind: str, wearers: list[Wearer], start: int, position: int, r: int
) -> tuple[str, str, list[tuple[bytes, bytes]], bytes]:
    """The `position`-th request of `kind`: method, path, headers and body."""
    w = wearers[position % len(wearers)]
    slot = position // len(wearers)
    headers = [(b"host", b"testserver"), (b"authorization", f"Bearer {w.token}".encode())]
    if kind == "me":
        return "GET", "/api/v1/patients/me", headers, b""
    if kind == "health":
        return "GET", "/healthz", headers, b""
    if kind in DAY_KINDS:
        # A whole past day, 288 five-minute readings: every request a day of its own.
        day = (start // 86_400 - 2 - slot) * 86_400
        items = [item(str(w.device_id), day + 300 * i, i) for i in range(288)]
    else:
        items = [item(str(w.device_id), start + 60 * slot, r)]
    body = json.dumps({"items": items}).encode()
    length = str(len(body)).encode()
    headers += [(b"content-type", b"application/json"), (b"content-length", length)]
    path = "/api/v1/readings/small" if kind == "bare" else "/api/v1/readings"
    return "POST", path, headers, body


async def run(
    app: Any, kind: str, wearers: list[Wearer], start: int, offset: int, n: int, url: str
) -> tuple[float, float]:
    """`n` requests of `kind`; (service ms, PostgreSQL ms) of CPU per request."""
    # The requests are made before the clock starts: building their bodies is not the service's.
    requests = [_request(kind, wearers, start, offset + r, r) for r in range(n)]
    pg_pids = await backends(url)
    pg_before = cpu_seconds(pg_pids)
    started = time.thread_time()
    SAMPLING["on"] = kind == PROFILED and offset > 0
    for method, path, headers, body in requests:
        status, out = await call(app, method, path, headers, body)
        assert status == 200, (status, out[:300])
    SAMPLING["on"] = False
    app_ms = 1000 * (time.thread_time() - started) / n
    pg_pids |= await backends(url)
    pg_after = cpu_seconds(pg_pids)
    pg_ms = 1000 * sum(t - pg_before.get(p, 0.0) for p, t in pg_after.items()) / n
    return app_ms, pg_ms


async def main() -> None:
    """Run the kinds in turn and print each one's CPU per request, round by round."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kinds", default="cgm1,me,health,bare")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    if os.environ.get("CPUSAMPLE"):
        signal.signal(signal.SIGPROF, _sample)
        signal.setitimer(signal.ITIMER_PROF, 0.0005, 0.0005)
    async with bench_database(DEFAULT_SERVER, "cc_bench_reqcpu") as url:
        os.environ["DATABASE_URL"] = url  # the bare app's pool
        wearers = await seed_patients(url, 500, prefix="h", interval=60, tokens=True)
        start = int(time.time()) - 13 * 60
        await prime(url, wearers, "cgm1", start)
        import bench.readings_quick_app as quick
        from app.kit.gc_tuning import serving_gc
        from app.main import create_app

        service = create_app(bench_settings(url).model_copy(update={"db_pool_size": 8}))
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
        async with (
            service.router.lifespan_context(service),
            quick.app.router.lifespan_context(quick.app),
        ):
            with serving_gc():
                # Warm-up: routes resolved, statements compiled, tokens verified once.
                await run(service, "cgm1", wearers, start, 0, 50, url)
                await run(service, "me", wearers, start, 0, 50, url)
                await run(quick.app, "bare", wearers, start, 50, 50, url)
                offset = 100
                for _ in range(args.rounds):
                    for kind in kinds:
                        app = quick.app if kind in BARE_KINDS else service
                        results[kind].append(
                            await run(app, kind, wearers, start, offset, args.requests, url)
                        )
                        if kind in ("cgm1", "bare", *DAY_KINDS):
                            offset += args.requests
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}; {args.requests} requests x {args.rounds} rounds, ms of CPU")
    for kind, runs in results.items():
        apps = " / ".join(f"{a:.3f}" for a, _ in runs)
        pgs = " / ".join(f"{p:.3f}" for _, p in runs)
        print(
            f"{kind:7s} service {apps} (median {statistics.median(a for a, _ in runs):.3f})"
            f"  PostgreSQL {pgs} (median {statistics.median(p for _, p in runs):.3f})"
        )


if __name__ == "__main__":
    asyncio.run(main())
    if SAMPLES:
        Path(os.environ["CPUSAMPLE"]).write_text(
            "".join(f"{stack} {count}\n" for stack, count in SAMPLES.items())
        )
