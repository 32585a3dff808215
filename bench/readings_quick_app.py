"""The issue's reference points for ingestion, run beside the service: bare FastAPI + asyncpg
endpoints that store a batch of readings and answer with a count - by COPY for whole days
(`bench.readings_ingest`), by one INSERT for a phone's 1-3 readings (`bench.cpu_per_request`).

No sign-in, no per-item checks, no duplicates, no latest values, alerts, audit or report: it
shows what the same HTTP + COPY path costs on this machine before any of the service's rules,
so the service's rate can be read against both it and the raw COPY. Not part of the service.

    DATABASE_URL=postgresql+asyncpg://... uvicorn bench.readings_quick_app:app --workers 2
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import make_url

COLUMNS = (
    "device_id", "kind", "measured_at", "patient_id", "utc_offset_minutes", "value",
    "original_value", "original_unit", "sample_interval_seconds", "backfilled", "source",
    "received_at",
)  # fmt: skip
# The small-batch route's row adds the second and third values (BP: diastolic, pulse).
INSERT_COLUMNS = (*COLUMNS, "value2", "value3")


def _insert_statement(rows: int) -> str:
    """One multi-row INSERT for `rows` rows (asyncpg prepares and keeps it per text)."""
    width = len(INSERT_COLUMNS)
    values = ", ".join(
        "(" + ", ".join(f"${row * width + column + 1}" for column in range(width)) + ")"
        for row in range(rows)
    )
    return f"INSERT INTO readings ({', '.join(INSERT_COLUMNS)}) VALUES {values}"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    dsn = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql")
    pool = await asyncpg.create_pool(
        dsn.render_as_string(hide_password=False), min_size=8, max_size=8
    )
    # The bench's devices are all bound before the server starts.
    devices = await pool.fetch("SELECT id, patient_id FROM devices")
    app.state.patient_of = {str(r["id"]): r["patient_id"] for r in devices}
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=_lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Up (the bench waits for this)."""
    return {"status": "ok"}


@app.post("/api/v1/readings")
async def upload(request: Request) -> Response:
    """COPY the batch's items as sent."""
    items = json.loads(await request.body())["items"]
    now = datetime.now(UTC)
    patient_of = request.app.state.patient_of
    records = [
        (uuid.UUID(item["device_id"]), item["kind"], datetime.fromisoformat(item["measured_at"]),
         patient_of[item["device_id"]], item["utc_offset_minutes"], float(item["value"]),
         float(item["value"]), item["unit"], 300, True, "app", now)
        for item in items
    ]  # fmt: skip
    async with request.app.state.pool.acquire() as connection, connection.transaction():
        await connection.copy_records_to_table("readings", records=records, columns=COLUMNS)
    return Response(json.dumps({"accepted": len(records)}), media_type="application/json")


@app.post("/api/v1/readings/small")
async def upload_small(request: Request) -> Response:
    """INSERT the batch's few items (CGM or BP) as sent, in one statement and round trip."""
    items = json.loads(await request.body())["items"]
    now = datetime.now(UTC)
    patient_of = request.app.state.patient_of
    values: list[object] = []
    for item in items:
        value = float(item["value"] if item["kind"] != "bp" else item["systolic"])
        values += (
            uuid.UUID(item["device_id"]), item["kind"], datetime.fromisoformat(item["measured_at"]),
            patient_of[item["device_id"]], item["utc_offset_minutes"], value, value,
            item.get("unit", "mmHg"), 60 if item["kind"] == "cgm" else None, False, "app", now,
            item.get("diastolic"), item.get("pulse"),
        )  # fmt: skip
    await request.app.state.pool.execute(_insert_statement(len(items)), *values)
    return Response(json.dumps({"accepted": len(items)}), media_type="application/json")
