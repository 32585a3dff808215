"""Benefit rules: the version in force for a claim, and new versions written by bureau staff."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

import app.insurance.messages  # noqa: F401 - registers the error texts
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import repository as insurance_repository
from app.insurance.calculation import Terms
from app.insurance.schemas import BenefitRuleCreate
from app.kit.clock import city_date
from app.models import BenefitRule, ChronicDisease

RESOURCE = "benefit_rule"


def terms_of(rule: BenefitRule) -> Terms:
    """The calculation terms of a rule version."""
    return Terms(
        deductible_fen=rule.deductible_fen,
        reimbursement_bp=rule.reimbursement_bp,
        partial_prepay_bp=rule.partial_prepay_bp,
        annual_limit_fen=rule.annual_limit_fen,
    )


async def rule_for(
    session: AsyncSession,
    insurance_type: str,
    disease_id: uuid.UUID,
    level: str,
    moment: datetime,
) -> BenefitRule:
    """The version in force at `moment` (Asia/Shanghai calendar); 409 when there is none."""
    local_day = city_date(moment)
    rule = await insurance_repository.rule_in_force(
        session, insurance_type, disease_id, level, local_day.year, local_day
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
        rule.annual_limit_fen,
        rule.note,
    ) == (
        effective_from,
        body.deductible_fen,
        body.reimbursement_bp,
        body.partial_prepay_bp,
        body.annual_limit_fen,
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
    disease = await session.get(
        ChronicDisease, body.disease_id, with_for_update={"key_share": True}
    )
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
        annual_limit_fen=body.annual_limit_fen,
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
