"""Pre-settlement, settlement and reversal: the service functions the order flow calls.

Settlement and reversal lock the patient-year quota row first, so every booking of that patient
and year is serialised: the annual limit cannot be overrun by concurrent orders, and a retried
request (same message id) finds the first one's result instead of booking twice.

A reversal gives back what the patient paid towards the settlement. Payment sits above insurance
(it pays settlements), so insurance does not import it: a reversal records `SettlementReversed`
and app/wiring.py has payment's refunds subscribe to it, in the same transaction (a process
that records it unwired fails with EventsNotWired instead of silently keeping the money).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.catalogue import service as catalogue_service
from app.errors import Conflict, NotFound
from app.identity import service as identity_service
from app.insurance import repository as insurance_repository
from app.insurance.calculation import QuotaState, Terms, split_claim
from app.insurance.claims import Claim, Split
from app.insurance.facts import QuoteComputed, SettlementReversed
from app.insurance.rules import rule_for, terms_of
from app.insurance.schemas import SettlementQuote
from app.kit.clock import city_date, to_shanghai, utcnow
from app.kit.repository import by_id
from app.ledger import posting
from app.models import (
    BenefitRule,
    ChronicDisease,
    Drug,
    Institution,
    InsuredIdentity,
    Patient,
    PlatformSettlement,
    Presettlement,
    Settlement,
)

MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def new_message_id() -> str:
    """A fresh insurer message id."""
    return uuid.uuid4().hex


def _check_message_id(message_id: str) -> None:
    if not MESSAGE_ID.match(message_id):
        raise Conflict("message_id_invalid")


@dataclass(frozen=True)
class _Context:
    rule: BenefitRule
    year: int
    identity: InsuredIdentity
    # The disease's annual limit for the claim's insurance type (the catalogue's, 按病种限额).
    annual_limit_fen: int

    @property
    def terms(self) -> Terms:
        return terms_of(self.rule, self.annual_limit_fen)


async def _context(session: AsyncSession, claim: Claim) -> _Context:
    """Check the claim's references and its insured identity (verified, bound to the claim,
    agreeing with the patient's declaration), and find the benefit rule and the disease's
    annual limit it is settled under (409 when the catalogue in force does not list it)."""
    patient = await by_id(session, Patient, claim.patient_id)
    institution = await by_id(session, Institution, claim.institution_id)
    disease = await by_id(session, ChronicDisease, claim.disease_id)
    if patient is None or institution is None or disease is None:
        raise NotFound("claim_reference_unknown")
    for item in claim.items:
        if await by_id(session, Drug, item.drug_id) is None:
            raise NotFound("claim_reference_unknown")
    # Two independent sources, compared: the verified identity (never the patient's row) and
    # the patient's declaration. The claim's type must be the verified one.
    identity = await identity_service.ensure_settleable(
        session, claim.patient_id, claim.insured_identity_id
    )
    if identity.insurance_type != claim.insurance_type:
        raise Conflict("insurance_type_mismatch")
    if claim.personal_account_balance_fen and not identity.personal_account:
        raise Conflict("personal_account_unavailable")
    rule = await rule_for(
        session, claim.insurance_type, claim.disease_id, institution.level, claim.moment
    )
    limit = await catalogue_service.annual_limit_fen(
        session, claim.disease_id, claim.insurance_type, city_date(claim.moment)
    )
    return _Context(
        rule=rule,
        year=to_shanghai(claim.moment).year,
        identity=identity,
        annual_limit_fen=catalogue_service.annual_limit_or_refuse(limit),
    )


async def _account_balance(session: AsyncSession, claim: Claim, context: _Context) -> int:
    """What the personal account may pay: the balance the claim chose, capped by what the
    verified identity's account still holds (read under the quota lock when settling)."""
    if not claim.personal_account_balance_fen:
        return 0
    available = await identity_service.account_available_fen(session, context.identity)
    return min(claim.personal_account_balance_fen, available)


def _claim_columns(claim: Claim, context: _Context) -> dict[str, object]:
    return {
        "order_id": claim.order_id,
        "patient_id": claim.patient_id,
        "institution_id": claim.institution_id,
        "store_id": claim.store_id,
        "disease_id": claim.disease_id,
        "insurance_type": claim.insurance_type,
        "med_type": str(claim.med_type),
        "benefit_rule_id": context.rule.id,
        "year": context.year,
        "service_at": claim.moment,
        "insured_identity_id": context.identity.id,
    }


def _lines(claim: Claim, split: Split) -> list[dict[str, object]]:
    return [
        {
            "drug_id": item.drug_id,
            "national_code": item.national_code,
            "name_zh": item.name_zh,
            "quantity": item.quantity,
            "unit_price_fen": item.unit_price_fen,
            "amount_fen": line.amount_fen,
            "insurance_class": item.insurance_class,
            "self_pay_fen": line.self_pay_fen,
            "partial_prepay_fen": line.partial_prepay_fen,
        }
        for item, line in zip(claim.items, split.lines, strict=True)
    ]


async def presettle(
    session: AsyncSession, claim: Claim, message_id: str | None = None
) -> SettlementQuote:
    """The split as it would be now, stored so the patient can see it; books nothing."""
    message_id = message_id or new_message_id()
    _check_message_id(message_id)
    existing = await insurance_repository.quote_by_message(session, message_id)
    if existing is not None:
        if existing.order_id != claim.order_id:
            raise Conflict("message_id_reused")
        return SettlementQuote.from_row(existing)
    context = await _context(session, claim)
    met, used = await insurance_repository.peek_quota(
        session, claim.patient_id, context.year, claim.disease_id
    )
    split = split_claim(
        claim.items,
        context.terms,
        QuotaState(met, used),
        await _account_balance(session, claim, context),
    )
    row = Presettlement(
        message_id=message_id,
        computed_at=utcnow(),
        lines=[{**line, "drug_id": str(line["drug_id"])} for line in _lines(claim, split)],
        **_claim_columns(claim, context),
        **split.amounts(),
    )
    session.add(row)
    await session.flush()
    await events.record(session, QuoteComputed(row))
    return SettlementQuote.from_row(row)


class SettleOnPlatform(Protocol):
    """The insurance platform settling a claim before it is booked here (2207): given the
    settlement as the local rules estimate it (not stored yet) and its drug lines, its answer
    as a row to store beside it, carrying the platform's split and the estimate."""

    async def __call__(
        self, session: AsyncSession, draft: Settlement, items: Sequence[dict[str, Any]]
    ) -> PlatformSettlement: ...


def _book_platform_split(row: Settlement, platform: PlatformSettlement) -> None:
    """Make the platform's split what the not yet stored settlement books. The local rules'
    reasons (exclusions, deductible, ratio) stay as estimated: the platform answers amounts."""
    row.limit_remaining_fen = max(0, row.limit_remaining_fen - (platform.fund_fen - row.fund_fen))
    row.total_fen = platform.total_fen
    row.fund_fen = platform.fund_fen
    row.account_fen = platform.account_fen
    row.cash_fen = platform.cash_fen
    row.personal_fen = platform.account_fen + platform.cash_fen


async def settle(
    session: AsyncSession,
    claim: Claim,
    message_id: str,
    on_platform: SettleOnPlatform | None = None,
) -> Settlement:
    """Book the authoritative split at hand-over; idempotent by message id. The local rules
    estimate it now; where the insurance platform settles it (`on_platform`), the platform's
    split is what is booked (ledger, quota, the patient's cash share) and the estimate is kept
    beside it on the platform's row."""
    _check_message_id(message_id)
    context = await _context(session, claim)
    quota = await insurance_repository.lock_quota(session, claim.patient_id, context.year)
    existing = await insurance_repository.settlement_by_message(session, message_id)
    if existing is not None:
        if existing.kind != "settlement" or existing.order_id != claim.order_id:
            raise Conflict("message_id_reused")
        return existing
    if await insurance_repository.unreversed_settlement_of_order(session, claim.order_id):
        raise Conflict("order_already_settled")
    usage = await insurance_repository.disease_quota(
        session, claim.patient_id, context.year, claim.disease_id
    )
    split = split_claim(
        claim.items,
        context.terms,
        QuotaState(quota.deductible_met_fen, usage.limit_used_fen),
        await _account_balance(session, claim, context),
    )
    row = Settlement(
        id=uuid.uuid4(),
        kind="settlement",
        message_id=message_id,
        settled_at=utcnow(),
        **_claim_columns(claim, context),
        **split.amounts(),
    )
    items = [
        {"settlement_id": row.id, "line_no": number, **line}
        for number, line in enumerate(_lines(claim, split), start=1)
    ]
    platform = None if on_platform is None else await on_platform(session, row, items)
    if platform is not None:
        _book_platform_split(row, platform)
    session.add(row)
    await session.flush()
    await insurance_repository.add_items(session, items)
    if platform is not None:
        session.add(platform)
    await posting.post_settlement(session, row)
    quota.deductible_met_fen += row.deductible_fen
    usage.limit_used_fen += row.fund_fen
    await session.flush()
    return row


_NEGATED = (
    "total_fen",
    "fund_fen",
    "personal_fen",
    "account_fen",
    "cash_fen",
    "self_pay_fen",
    "partial_prepay_fen",
    "deductible_fen",
    "copay_fen",
    "over_limit_fen",
)


async def reverse(
    session: AsyncSession, settlement_id: uuid.UUID, reason: str, message_id: str
) -> Settlement:
    """Undo a settlement with new entries: shares refunded, limit and deductible restored."""
    _check_message_id(message_id)
    original = await insurance_repository.get_settlement(session, settlement_id)
    if original is None:
        raise NotFound("settlement_not_found")
    if original.kind != "settlement":
        raise Conflict("settlement_is_reversal")
    quota = await insurance_repository.lock_quota(session, original.patient_id, original.year)
    existing = await insurance_repository.settlement_by_message(session, message_id)
    if existing is not None:
        if existing.reverses_id != original.id:
            raise Conflict("message_id_reused")
        return existing
    if await insurance_repository.reversal_of(session, original.id) is not None:
        raise Conflict("settlement_already_reversed")
    usage = await insurance_repository.disease_quota(
        session, original.patient_id, original.year, original.disease_id
    )
    # The limit as it stood on the settled day: a later edition never rewrites a past one.
    limit = await catalogue_service.annual_limit_fen(
        session, original.disease_id, original.insurance_type, city_date(original.service_at)
    )
    usage.limit_used_fen -= original.fund_fen
    quota.deductible_met_fen -= original.deductible_fen
    reversal = Settlement(
        kind="reversal",
        message_id=message_id,
        reverses_id=original.id,
        reason=reason[:200],
        settled_at=utcnow(),
        order_id=original.order_id,
        patient_id=original.patient_id,
        institution_id=original.institution_id,
        store_id=original.store_id,
        disease_id=original.disease_id,
        insurance_type=original.insurance_type,
        med_type=original.med_type,
        benefit_rule_id=original.benefit_rule_id,
        year=original.year,
        service_at=original.service_at,
        # The reversal books against the same identity: its negated account part gives the
        # personal account its money back.
        insured_identity_id=original.insured_identity_id,
        limit_remaining_fen=max(0, (limit or 0) - usage.limit_used_fen),
        **{name: -getattr(original, name) for name in _NEGATED},
    )
    session.add(reversal)
    await session.flush()
    await posting.post_settlement(session, reversal)
    await events.record(session, SettlementReversed(original, reversal))
    await session.flush()
    return reversal
