"""Chart bench (PostgreSQL): AGP PNG latency, and what chart requests do to uploads' latency,
with charts drawn in a worker thread of the service process (CHART_RENDER_PROCESSES=0, as before)
and in a renderer process (CHART_RENDER_PROCESSES=1, the default), in the same run.

    .venv/bin/python -m bench.charts [--server URL] [--patients 100] [--seconds 20]
                                     [--chart-clients 2] [--uploaders 4]

Patients with 14 days of 5-minute CGM readings ending three days ago. For each setting, one uvicorn
worker: first uploads alone (`--uploaders` clients, each posting 1-3 new readings of a patient,
then the next, as fast as answered), then the same uploads with `--chart-clients` clients each
asking for the AGP PNG of a patient and period not asked before (the image cache never answers:
every chart is a render). Latencies are at the client, in ms; the load average is printed with
them.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg
import httpx

from bench.readings_setup import DEFAULT_SERVER, Wearer, bench_database, plain, seed_patients
from bench.readings_setup import uvicorn_server as serve

# 14 days of 5-minute CGM readings per patient, ending three days ago: uploads fill the last three
# days (both settings' phases, at ~11 hours of readings per patient each, fit in them).
HISTORY = """
INSERT INTO readings (device_id, kind, measured_at, patient_id, utc_offset_minutes, value,
                      sample_interval_seconds, backfilled, source, received_at)
SELECT d.id, 'cgm', date_trunc('minute', now()) - interval '3 days' - make_interval(mins => 5 * i),
       d.patient_id, 480, 150 + 70 * sin(i / 40.0 + hashtext(d.id::text) % 7)
       + (random() - 0.5) * 30, 300, false, 'app', now()
FROM devices d, generate_series(0, 14 * 288 - 1) i
WHERE d.patient_id = ANY($1::uuid[])
"""
SETTINGS = {"thread (before)": "0", "renderer process (after)": "1"}


@dataclass
class Uploads:
    """Each patient's next reading time: uploads move forward through the last day."""

    wearers: list[Wearer]
    next_at: dict[object, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=71)
        self.next_at = {w.patient_id: start for w in self.wearers}

    def batches(self) -> Iterator[tuple[Wearer, list[dict[str, object]]]]:
        """Endless (patient, 1-3 new readings 5 minutes apart), patient after patient."""
        for wearer in itertools.cycle(self.wearers):
            items = []
            for _ in range(random.randint(1, 3)):
                at = self.next_at[wearer.patient_id]
                self.next_at[wearer.patient_id] = at + timedelta(minutes=5)
                items.append(
                    {
                        "kind": "cgm",
                        "device_id": str(wearer.device_id),
                        "measured_at": at.isoformat(),
                        "value": random.randint(70, 250),
                        "unit": "mg/dL",
                    }
                )
            yield wearer, items


def quantiles(samples: list[float]) -> str:
    """p50 / p99 / max in ms, and how many."""
    if len(samples) < 2:
        return f"n={len(samples)}"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"p50 {statistics.median(ordered):6.1f}  p99 {p99:6.1f}  max {ordered[-1]:6.1f}  "
        f"(n={len(ordered)})"
    )


async def timed_loop(
    until: float, samples: list[float], request: Callable[[], Awaitable[None]]
) -> None:
    """`request()` again and again until `until`, timing each (ms)."""
    while time.monotonic() < until:
        started = time.perf_counter()
        await request()
        samples.append(1000 * (time.perf_counter() - started))


async def upload_one(http: httpx.AsyncClient, batches: Iterator) -> None:
    """Post the next batch; every reading in it is accepted."""
    wearer, items = next(batches)
    response = await http.post(
        "/api/v1/readings",
        json={"items": items},
        headers={"Authorization": f"Bearer {wearer.token}"},
    )
    response.raise_for_status()
    report = response.json()
    assert report["accepted"] == len(items), report


async def chart_one(http: httpx.AsyncClient, charts: Iterator) -> None:
    """Get the AGP PNG of the next patient and period (never asked before)."""
    wearer, days = next(charts)
    response = await http.get(
        f"/api/v1/patients/{wearer.patient_id}/charts/agp.png",
        params={"days": days},
        headers={"Authorization": f"Bearer {wearer.token}"},
    )
    response.raise_for_status()
    assert response.content.startswith(b"\x89PNG")


async def phase(
    base: str, uploads: Uploads, charts: Iterator, args: argparse.Namespace, with_charts: bool
) -> tuple[list[float], list[float]]:
    """Uploads (and charts) for `args.seconds`: their latencies."""
    upload_ms: list[float] = []
    chart_ms: list[float] = []
    until = time.monotonic() + args.seconds
    batches = uploads.batches()
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        loops = [
            timed_loop(until, upload_ms, partial(upload_one, http, batches))
            for _ in range(args.uploaders)
        ]
        if with_charts:
            loops += [
                timed_loop(until, chart_ms, partial(chart_one, http, charts))
                for _ in range(args.chart_clients)
            ]
        await asyncio.gather(*loops)
    return upload_ms, chart_ms


async def main() -> None:
    """Run the bench and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--chart-clients", type=int, default=2)
    parser.add_argument("--uploaders", type=int, default=4)
    args = parser.parse_args()
    # Nothing refreshes rollups or relays behind the measurement.
    os.environ["BACKGROUND_JOBS_ENABLED"] = "false"
    random.seed(20)
    async with bench_database(args.server, "cc_bench_charts") as url:
        wearers = await seed_patients(url, args.patients, prefix="charts")
        connection = await asyncpg.connect(plain(url))
        await connection.execute(HISTORY, [w.patient_id for w in wearers])
        await connection.execute("VACUUM ANALYZE readings")
        await connection.close()
        uploads = Uploads(wearers)
        # Every (patient, period) once: no chart is answered from the image cache.
        charts = iter([(w, days) for days in range(14, 0, -1) for w in wearers])
        print(f"load average before: {os.getloadavg()}")
        for name, processes in SETTINGS.items():
            os.environ["CHART_RENDER_PROCESSES"] = processes
            with serve(url, 1) as base:
                async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                    # The first chart starts the renderer (and loads the font) either way.
                    await chart_one(http, charts)
                alone, _ = await phase(base, uploads, charts, args, with_charts=False)
                mixed, agp = await phase(base, uploads, charts, args, with_charts=True)
            print(f"\n{name}   (CHART_RENDER_PROCESSES={processes}, load {os.getloadavg()})")
            print(f"  upload, alone        {quantiles(alone)}")
            print(f"  upload, with charts  {quantiles(mixed)}")
            print(f"  AGP PNG              {quantiles(agp)}")
            print(f"  AGP PNG per second   {len(agp) / args.seconds:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
