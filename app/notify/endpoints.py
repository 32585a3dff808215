"""Subscription-grant endpoints: the patient mini-program reports `wx.requestSubscribeMessage`
results and reads how many messages of each template it may still receive."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.idempotency import RequiredIdempotencyKey
from app.kit.pagination import Page, PageQuery
from app.models import Role
from app.notify import service as notify_service
from app.notify.schemas import ConsentReport, GrantOut, SubscriptionResults

router = APIRouter(prefix="/api/v1", tags=["notifications"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]


def _by_template(grant: GrantOut) -> tuple[str]:
    return (grant.template_id,)


@router.get("/me/subscription-grants", response_model=Page[GrantOut])
async def list_my_grants(
    principal: PatientOnly, session: DbSession, request: Request, page: PageQuery
) -> Page[GrantOut]:
    """The mini-program's subscription templates, each with how many one-time messages I
    allowed and have not received yet (ask `wx.requestSubscribeMessage` for those at 0)."""
    settings = request.app.state.settings
    grants = await notify_service.list_grants(session, principal, settings)
    return page.page_of_all(grants, _by_template, str)


@router.post("/me/subscription-grants", response_model=ConsentReport)
async def report_subscription_results(
    body: SubscriptionResults,
    principal: PatientOnly,
    session: DbSession,
    request: Request,
    idempotency_key: RequiredIdempotencyKey,
) -> ConsentReport:
    """Report what `wx.requestSubscribeMessage` answered: each "accept" allows one more
    message of that template, "ban" clears the template; "reject" and "filter" change
    nothing. Unknown template ids are reported back as such and not counted."""
    return await notify_service.record_consent(
        session, principal, request.app.state.settings, body, idempotency_key
    )
