"""Benefit rules: the version in force for a claim, new versions written by bureau staff, and
the year-end renewal check. A rule holds the deductible and the ratios; the annual limit a
claim is capped by is the catalogue's per-disease limit (按病种限额) for its insurance type, in
the edition in force on the claim's day.

A rule stays in force until replaced: on 1 January a key (insurance type, disease, institution
level) without a version for the new year keeps its last version, while the patient's quota
(deductible met, annual limit used) starts afresh with the year of the claim. From
`benefit_rule_warning_days` before 1 January the bureau is told, daily, which keys have no
version for the coming year yet (`GET /benefit-rules/renewals` lists them).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import repository as insurance_repository
from app.insurance.calculation import Terms
from app.insurance.schemas import BenefitRuleCreate
from app.kit.clock import city_date, utcnow
from app.models import BenefitRule, ChronicDisease
from app.outbox.push import PushNotification, queue_push

RESOURCE = "benefit_rule"
# Keys named in one notice (the renewals endpoint lists them all).
NOTICE_KEYS = 20


def terms_of(rule: BenefitRule, annual_limit_fen: int) -> Terms:
    """The calculation terms of a rule version under the disease's annual limit."""
    return Terms(
        deductible_fen=rule.deductible_fen,
        reimbursement_bp=rule.reimbursement_bp,
        partial_prepay_bp=rule.partial_prepay_bp,
        annual_limit_fen=annual_limit_fen,
    )


async def rule_for(
    session: AsyncSession,
    insurance_type: str,
    disease_id: uuid.UUID,
    level: str,
    moment: datetime,
) -> BenefitRule:
    """The version in force at `moment` (Asia/Shanghai calendar), carried over from an earlier
    year until that year has its own; 409 when the key never had one."""
    rule = await insurance_repository.rule_in_force(
        session, insurance_type, disease_id, level, city_date(moment)
    )
    if rule is None:
        raise Conflict("benefit_rule_missing")
    return rule


def _same_terms(rule: BenefitRule, body: BenefitRuleCreate, effective_from: date) -> bool:
    return (
        rule.effective_from,
        rule.deductible_fen,
        rule.reimbursement_bp,
        rule.partial_prepay_bp,
        rule.note,
    ) == (
        effective_from,
        body.deductible_fen,
        body.reimbursement_bp,
        body.partial_prepay_bp,
        body.note,
    )


async def create_version(
    session: AsyncSession, principal: Principal, body: BenefitRuleCreate
) -> BenefitRule:
    """Write the next version of a rule; it applies from today or later, never retroactively."""
    today = city_date()
    effective_from = body.effective_from or max(today, date(body.year, 1, 1))
    if effective_from < today:
        raise Conflict("benefit_rule_in_past")
    if effective_from.year != body.year:
        raise Conflict("benefit_rule_outside_year")
    # The disease row is locked (FOR NO KEY UPDATE) so versions of its rules are numbered one
    # at a time; a repeat of the newest version (a retried request) returns it.
    disease = await insurance_repository.lock_disease_for_rule_versions(session, body.disease_id)
    if disease is None:
        raise NotFound("claim_reference_unknown")
    versions = await insurance_repository.rule_versions(
        session, body.insurance_type, body.disease_id, body.institution_level, body.year
    )
    if versions and _same_terms(versions[0], body, effective_from):
        return versions[0]
    rule = BenefitRule(
        insurance_type=body.insurance_type,
        disease_id=body.disease_id,
        institution_level=body.institution_level,
        year=body.year,
        version=(versions[0].version + 1) if versions else 1,
        effective_from=effective_from,
        deductible_fen=body.deductible_fen,
        reimbursement_bp=body.reimbursement_bp,
        partial_prepay_bp=body.partial_prepay_bp,
        note=body.note,
        created_by_account_id=principal.account_id,
    )
    session.add(rule)
    await session.flush()
    await audit_service.record(session, principal, AuditAction.create, RESOURCE, rule.id, None)
    return rule


async def list_rules(
    session: AsyncSession, year: int | None, insurance_type: str | None
) -> Sequence[BenefitRule]:
    """Every rule version, optionally of one year and insurance type."""
    return await insurance_repository.list_rules(session, year, insurance_type)


@dataclass(frozen=True)
class Renewal:
    """One rule key at the turn of a year: what is in force before it and the year's own."""

    insurance_type: str
    disease: ChronicDisease
    institution_level: str
    carried: BenefitRule | None
    own: BenefitRule | None


def renewal_year(today: date, warning_days: int) -> int:
    """The year a clerk is preparing: next year from the warning period on, else this one."""
    return (today + timedelta(days=warning_days)).year


async def renewals(session: AsyncSession, year: int) -> list[Renewal]:
    """Every rule key with a version before or in `year`: the version that would carry over
    into it and the year's own latest version (None: not renewed yet)."""
    by_key: dict[tuple[str, uuid.UUID, str], dict[str, BenefitRule]] = {}
    for rule in await insurance_repository.rules_up_to(session, year):
        slot = by_key.setdefault((rule.insurance_type, rule.disease_id, rule.institution_level), {})
        # Newest first per key: the first of `year` is its own, the first before carries over.
        slot.setdefault("own" if rule.year == year else "carried", rule)
    diseases = {
        d.id: d
        for d in await insurance_repository.diseases_by_id(
            session, list({disease_id for _, disease_id, _ in by_key})
        )
    }
    return [
        Renewal(
            insurance_type=insurance_type,
            disease=diseases[disease_id],
            institution_level=level,
            carried=slot.get("carried"),
            own=slot.get("own"),
        )
        for (insurance_type, disease_id, level), slot in by_key.items()
    ]


async def warn_unrenewed(
    session: AsyncSession, warning_days: int, now: datetime | None = None
) -> int:
    """From `warning_days` before 1 January, tell every bureau account (once a day) which rule
    keys have no version for the coming year; how many keys are missing (0: nothing sent)."""
    today = city_date(now or utcnow())
    year = today.year + 1
    if today < date(year, 1, 1) - timedelta(days=warning_days):
        return 0
    missing = [r for r in await renewals(session, year) if r.own is None]
    if not missing:
        return 0
    data = {
        "year": year,
        "missing": len(missing),
        "days_left": (date(year, 1, 1) - today).days,
        "keys": [
            f"{r.insurance_type}/{r.disease.code} {r.disease.name_zh}/{r.institution_level}"
            for r in missing[:NOTICE_KEYS]
        ],
    }
    for account_id in await insurance_repository.bureau_accounts(session):
        await queue_push(
            session,
            PushNotification(
                recipient=str(account_id),
                template="benefit_rules_not_renewed",
                data=data,
                page=f"/insurance/benefit-rules/renewals?year={year}",
            ),
            f"benefit-rules-not-renewed:{year}:{today.isoformat()}:{account_id}",
        )
    return len(missing)
