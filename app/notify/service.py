"""Subscription consent: what the mini-program reports from `wx.requestSubscribeMessage`
becomes one-time grants per person and template (the provider uses them up)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.config import Settings
from app.kit.clock import utcnow
from app.models import PushConsent
from app.notify import repository as notify_repository
from app.notify.schemas import ConsentItem, ConsentOutcome, ConsentReport, GrantOut
from app.notify.schemas import SubscriptionResults as Results


def _kinds_by_template(settings: Settings) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = defaultdict(list)
    for kind, template in sorted(settings.wechat_templates.items()):
        kinds[template.template_id].append(kind)
    return dict(kinds)


async def list_grants(
    session: AsyncSession, principal: Principal, settings: Settings
) -> list[GrantOut]:
    """The configured templates with the caller's remaining grants (0 where none)."""
    held = {
        g.template_id: g.remaining
        for g in await notify_repository.grants(session, principal.account_id)
    }
    return [
        GrantOut(template_id=template_id, kinds=kinds, remaining=held.get(template_id, 0))
        for template_id, kinds in sorted(_kinds_by_template(settings).items())
    ]


async def record_consent(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    body: Results,
    idempotency_key: str,
) -> ConsentReport:
    """Count each "accept" as one more grant and clear a banned template's; a replay of the
    same request (same Idempotency-Key, already bound to this request) counts nothing again."""
    fresh = not await notify_repository.consent_recorded(
        session, principal.account_id, idempotency_key
    )
    if fresh:
        await notify_repository.add_consent(
            session,
            PushConsent(
                account_id=principal.account_id,
                idempotency_key=idempotency_key,
                results=dict(body.results),
            ),
        )
    known = _kinds_by_template(settings)
    now = utcnow()
    items = []
    for template_id, result in sorted(body.results.items()):
        outcome: ConsentOutcome = "unchanged"
        if template_id not in known:
            outcome = "unknown_template"
        elif result == "accept":
            outcome = "counted"
            if fresh:
                await notify_repository.add_grants(
                    session, principal.account_id, template_id, 1, now
                )
        elif result == "ban":
            outcome = "cleared"
            if fresh:
                await notify_repository.clear_grants(
                    session, principal.account_id, template_id, now
                )
        items.append(ConsentItem(template_id=template_id, result=result, outcome=outcome))
    return ConsentReport(items=items, grants=await list_grants(session, principal, settings))
