"""Doctor presence over the realtime gateway.

The doctor app sends {"type": "presence.update", "status": "online"|"busy"|"offline"} when its
state changes and again every ~30 s; each report lasts PRESENCE_TTL_SECONDS. Going offline, or
the app's socket closing (the gateway closes one that is silent for two heartbeats), hands the
doctor's waiting patients on at once; a process that dies without closing its sockets is
covered by the expiry, acted on by the worker's `assignment` job and by patients' reads.
"""

from __future__ import annotations

from typing import Any

from app.assignment import consultations as consultation_service
from app.doctor import service as doctor_service
from app.errors import Forbidden
from app.models import Role
from app.realtime.handlers import ClientContext


async def presence_update(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Record the doctor app's presence; reply with its expiry and how many were handed on."""
    principal = ctx.principal
    if principal.role != Role.doctor or principal.doctor_id is None:
        raise Forbidden()
    status = frame.get("status")
    settings = ctx.app.state.settings  # type: ignore[attr-defined]
    hub = ctx.app.state.hub  # type: ignore[attr-defined]
    async with ctx.unit_of_work() as session:
        previous, expires_at = await doctor_service.report_presence(
            session, settings, principal.doctor_id, str(status), ctx.connection_id
        )
        handed_over = 0
        if status == "offline" and previous != "offline":
            handed_over = await consultation_service.hand_over(
                session, settings, hub, principal.doctor_id
            )
        # Any doctor's report also sweeps colleagues whose apps died without a goodbye.
        for doctor_id in await doctor_service.lapse_silent_doctors(session):
            await consultation_service.hand_over(session, settings, hub, doctor_id)
    return {
        "type": "presence.updated",
        "status": status,
        "expires_at": expires_at.isoformat(),
        "handed_over": handed_over,
    }


async def doctor_app_closed(ctx: ClientContext) -> None:
    """The doctor app's socket closed: offline now, and their waiting patients handed on."""
    principal = ctx.principal
    if principal.role != Role.doctor or principal.doctor_id is None:
        return
    settings = ctx.app.state.settings  # type: ignore[attr-defined]
    hub = ctx.app.state.hub  # type: ignore[attr-defined]
    async with ctx.unit_of_work() as session:
        if await doctor_service.connection_closed(session, principal.doctor_id, ctx.connection_id):
            await consultation_service.hand_over(session, settings, hub, principal.doctor_id)
