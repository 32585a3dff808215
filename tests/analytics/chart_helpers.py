"""A patient with readings to chart, and the chart URLs, for the chart tests."""

from __future__ import annotations

from datetime import timedelta

from app.kit.clock import utcnow
from tests.reading.helpers import Wearer, bp_item, cgm_item, upload, wearer


async def wearing(client, db_session, settings) -> Wearer:
    """A patient with five hours of CGM readings and four BP readings, uploaded."""
    who = await wearer(db_session, settings)
    now = utcnow()
    # The newest 5 minutes ago: a reading "now" is then a plausible next one (not too dense).
    items = [
        cgm_item(who.cgm, now - timedelta(minutes=5 * (i + 1)), 6 + (i % 12) / 4) for i in range(60)
    ]
    items += [bp_item(who.bp, now - timedelta(hours=2 * i), 128 + i, 82) for i in range(4)]
    await upload(client, who.headers, items)
    return who


def chart_url(who: Wearer, chart: str = "agp", image_format: str = "png", **query: object) -> str:
    """The URL of one of the patient's chart images."""
    url = f"/api/v1/patients/{who.patient.id}/charts/{chart}.{image_format}"
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
