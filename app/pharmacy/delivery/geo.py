"""Distances and arrival estimates for couriers in the pilot city.

The estimate is straight-line distance times a road factor at a district-dependent speed:
mountain roads in Pingding and Yu are slower. Good enough for "about 25 minutes"; a routing
service could replace `eta` without touching callers.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from app.config import Settings

EARTH_RADIUS_KM = 6371.0088

# Approximate centres of the pilot city's districts (GB/T 2260 code -> lat, lng), used when the
# patient did not share an exact position for the delivery.
DISTRICT_CENTRES: dict[str, tuple[float, float]] = {
    "140302": (37.8570, 113.5830),  # 城区 Chengqu
    "140303": (37.8690, 113.5530),  # 矿区 Kuangqu
    "140311": (37.9430, 113.5820),  # 郊区 Jiaoqu
    "140321": (37.7860, 113.6300),  # 平定县 Pingding (Guanshan town)
    "140322": (38.0860, 113.4120),  # 盂县 Yu County (Xiushui town)
}
CITY_CENTRE = DISTRICT_CENTRES["140302"]


def centre_of(district_code: str) -> tuple[float, float]:
    """The district's centre (the city centre for a district not in the table)."""
    return DISTRICT_CENTRES.get(district_code, CITY_CENTRE)


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lng2 - lng1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def eta(
    settings: Settings,
    now: datetime,
    origin: tuple[float, float],
    destination: tuple[float, float],
    mountainous: bool,
) -> datetime:
    """When a courier at `origin` should reach `destination`."""
    speed = settings.courier_speed_mountain_kmh if mountainous else settings.courier_speed_kmh
    road_km = distance_km(*origin, *destination) * settings.courier_road_factor
    return now + timedelta(hours=road_km / speed)
