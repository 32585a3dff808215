"""Property: any mix of valid, invalid and repeated items is reported and stored consistently."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.models import Reading
from tests.reading.helpers import cgm_item, device, upload, wearer

# An item: (minute slot, what kind of item). Slots repeat, so duplicates happen.
ITEM = st.tuples(
    st.integers(0, 40),
    st.sampled_from(["ok", "ok", "ok", "low_flag", "bad_unit", "out_of_range", "future", "junk"]),
    st.floats(2.3, 22.0, allow_nan=False),
)


def _item(dev, now, slot, what, value):
    at = now - timedelta(minutes=5 * slot + 1)
    if what == "low_flag":
        return cgm_item(dev, at, None, flag="low")
    if what == "bad_unit":
        return cgm_item(dev, at, value, unit="mg/dL")
    if what == "out_of_range":
        return cgm_item(dev, at, 40.0)
    if what == "future":
        return cgm_item(dev, now + timedelta(hours=1, minutes=slot), value)
    if what == "junk":
        return {"kind": "cgm", "device_id": str(dev.id), "value": "x"}
    return cgm_item(dev, at, value)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(ITEM, max_size=40))
async def test_reports_add_up_and_reupload_is_all_duplicates(
    client, db_session, settings_fixture, batch
) -> None:
    who = await settings_fixture()
    dev = await device(db_session, who.patient, "cgm", "mmol/L")
    now = utcnow()
    items = [_item(dev, now, *spec) for spec in batch]
    report = await upload(client, who.headers, items)
    assert report["accepted"] + report["duplicate"] + report["rejected"] == len(items)
    assert [i["index"] for i in report["items"]] == list(range(len(items)))
    stored = await db_session.scalar(
        select(func.count()).select_from(Reading).where(Reading.device_id == dev.id)
    )
    assert stored == report["accepted"]
    valid_slots = {slot for slot, what, _ in batch if what in ("ok", "low_flag")}
    assert report["accepted"] == len(valid_slots)
    again = await upload(client, who.headers, items)
    assert again["accepted"] == 0
    assert again["duplicate"] == report["accepted"] + report["duplicate"]
    assert again["rejected"] == report["rejected"]


@pytest.fixture
def settings_fixture(db_session, settings):
    """Makes a fresh wearer per example (examples share the test's transaction)."""

    async def make():
        return await wearer(db_session, settings)

    return make
