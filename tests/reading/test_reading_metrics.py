"""Readings stored and rejected are counted (readings_stored_total, readings_rejected_total)."""

from __future__ import annotations

from datetime import timedelta

from app.kit.clock import utcnow
from tests.fixtures.metrics import counted
from tests.reading.helpers import bp_item, cgm_item, upload, wearer


async def test_an_upload_counts_what_it_stored_by_kind_and_refused_by_reason(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    before = {
        "cgm": counted("readings_stored_total", kind="cgm"),
        "bp": counted("readings_stored_total", kind="bp"),
        "malformed": counted("readings_rejected_total", reason="malformed"),
        "wrong_unit": counted("readings_rejected_total", reason="wrong_unit"),
    }
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=10), 6.2),
        cgm_item(who.cgm, now - timedelta(minutes=5), 80.0),  # mg/dL sent as mmol/L
        bp_item(who.bp, now - timedelta(minutes=3), 142, 91, pulse=70, posture="sitting"),
        {"kind": "weight", "device_id": str(who.cgm.id)},
    ]
    report = await upload(client, who.headers, items)
    assert (report["accepted"], report["rejected"]) == (2, 2)

    assert counted("readings_stored_total", kind="cgm") == before["cgm"] + 1
    assert counted("readings_stored_total", kind="bp") == before["bp"] + 1
    assert counted("readings_rejected_total", reason="malformed") == before["malformed"] + 1
    assert counted("readings_rejected_total", reason="wrong_unit") == before["wrong_unit"] + 1

    # A repeat stores nothing new: duplicates are neither stored nor refused.
    await upload(client, who.headers, items[:1])
    assert counted("readings_stored_total", kind="cgm") == before["cgm"] + 1
