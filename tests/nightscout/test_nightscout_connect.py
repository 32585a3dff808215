"""nightscout-connect (npm), a published uploader, posts through its own code to the service in
a uvicorn process: its Dexcom Share translation, its POST of entries to /api/v1/entries.json
and treatments to /api/v1/treatments.json with the API-SECRET header, and its read of the last
entry. The package is installed from tests/nightscout/node/package-lock.json on first use."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from app.kit.clock import utcnow
from app.models import Reading
from tests.fixtures.npm import NODE, needs_node, npm_ci
from tests.nightscout.helpers import nightscout_site

NODE_DIR = Path(__file__).parent / "node"
pytestmark = needs_node


def _share_record(minutes_ago: int, value: int, trend: str) -> dict:
    # Dexcom Share's ReadPublisherLatestGlucoseValues record, as the uploader receives it.
    wall = int((utcnow() - timedelta(minutes=minutes_ago)).timestamp() * 1000)
    return {
        "WT": f"/Date({wall})/",
        "ST": f"/Date({wall})/",
        "DT": f"/Date({wall}+0800)/",
        "Value": value,
        "Trend": trend,
    }


async def _run_uploader(config: dict, tmp_path: Path) -> dict:
    await asyncio.to_thread(npm_ci, NODE_DIR)
    path = tmp_path / "input.json"
    path.write_text(json.dumps(config))
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(NODE_DIR / "post.js"),
        str(path),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    line = next(line for line in out.decode().splitlines()[::-1] if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


async def test_nightscout_connect_uploads_entries_and_treatments(tmp_path) -> None:
    async with nightscout_site() as site:
        config = {
            "url": site.url,
            "apiSecret": site.secret,
            "share": [
                _share_record(5, 142, "FortyFiveUp"),
                _share_record(10, 131, "Flat"),
                _share_record(15, 128, "Flat"),
            ],
            "treatments": [
                {
                    "eventType": "Meal Bolus",
                    "insulin": 4,
                    "carbs": 45,
                    "created_at": utcnow().isoformat(),
                    "enteredBy": "nightscout-connect",
                }
            ],
        }
        result = await _run_uploader(config, tmp_path)
        exchanges = sorted((e["method"], e["url"], e["status"]) for e in result["exchanges"])
        # gap_for reads first; entries and treatments then go out together.
        assert exchanges == [
            ("get", "/api/v1/entries.json", 200),
            ("post", "/api/v1/entries.json", 200),
            ("post", "/api/v1/treatments.json", 200),
        ]
        [posted] = [
            e for e in result["exchanges"] if e["method"] == "post" and "entries" in e["url"]
        ]
        assert len(posted["data"]) == 3
        # A second run reads the last entry back (its bookmark) and re-posting is harmless.
        again = await _run_uploader(config, tmp_path)
        assert again["before"]["entries"] == result["entries"][0]["dateString"]
        async with site.sessionmaker() as session:
            rows = list(
                await session.scalars(
                    select(Reading)
                    .where(Reading.patient_id == site.patient_id)
                    .order_by(Reading.measured_at)
                )
            )
    assert [(r.value, r.trend, r.source_device) for r in rows] == [
        (128, "Flat", "nightscout-connect"),
        (131, "Flat", "nightscout-connect"),
        (142, "FortyFiveUp", "nightscout-connect"),
    ]
