"""The pharmacy delivery dashboard: a static page (HTML + a little JS) served by the service,
working only through the public API and the realtime websocket."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
_MEDIA_TYPES = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    # The city's district outlines the map is drawn from (see yangquan-districts.SOURCE.md).
    "yangquan-districts.geojson": "application/geo+json",
}
Asset = Literal["dashboard.js", "dashboard.css", "yangquan-districts.geojson"]
_NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/dashboard")
async def dashboard_page() -> FileResponse:
    """The board page (sign-in happens in the page, against the password-login API)."""
    return FileResponse(STATIC / "dashboard.html", media_type="text/html", headers=_NO_CACHE)


@router.get("/dashboard/assets/{name}")
async def dashboard_asset(name: Asset) -> FileResponse:
    """The page's script, style sheet and map outlines."""
    return FileResponse(STATIC / name, media_type=_MEDIA_TYPES[name], headers=_NO_CACHE)
