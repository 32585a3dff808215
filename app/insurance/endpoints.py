"""Insurance endpoints: benefit rules (bureau edits), the patient's quote and settlements,
claim-review flags, and the bureau's monthly statements with export (their reconciliation:
app.payment.reconciliation_endpoints).

Pre-settlement, settlement and reversal are not endpoints: the order flow calls them server-side
(`app.insurance.settlement`), so no client can submit prices.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.errors import NotFound
from app.insurance import corrections as correction_service
from app.insurance import flags as flag_service
from app.insurance import repository as insurance_repository
from app.insurance import rules as rule_service
from app.insurance import statement_views
from app.insurance import statements as statement_service
from app.insurance.schemas import (
    BenefitRuleCreate,
    BenefitRuleOut,
    FlagCreate,
    FlaggedPage,
    FlaggedSettlement,
    FlagOut,
    FlagReviewCreate,
    FlagReviewOut,
    LedgerCorrectionCreate,
    LedgerCorrectionOut,
    LedgerTransactionOut,
    LedgerTransactionPage,
    RuleRenewalOut,
    RuleRenewals,
    SettlementOut,
    SettlementPage,
    SettlementQuote,
    StatementCreate,
    StatementDetail,
    StatementOut,
    StatementPage,
    StatementPaymentCreate,
    StatementRecoveryCreate,
)
from app.kit.bounded import NonNegativeInt64, Year
from app.kit.clock import city_date, utcnow
from app.kit.pagination import Page, PageQuery
from app.ledger import repository as ledger_repository
from app.models import LedgerEntry, Role

router = APIRouter(prefix="/api/v1/insurance", tags=["insurance"])

Bureau = Annotated[Principal, require_roles(Role.bureau)]
PatientOnly = Annotated[Principal, require_roles(Role.patient)]
Reviewer = Annotated[Principal, require_roles(Role.doctor, Role.bureau)]
# Everyone who may see some settlements; the bureau reads them through statements and flags.
SettlementReader = Annotated[
    Principal, require_roles(Role.patient, Role.doctor, Role.courier, Role.pharmacist)
]
MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


@router.get("/benefit-rules", response_model=Page[BenefitRuleOut])
async def list_benefit_rules(
    _: CurrentPrincipal,
    session: DbSession,
    page: PageQuery,
    year: Year | None = None,
    insurance_type: Literal["310", "390"] | None = None,
) -> Page[BenefitRuleOut]:
    """Every version of the benefit rules (deductible, ratio, annual limit)."""
    rows = await rule_service.list_rules(session, year, insurance_type)
    return page.page_in_order([BenefitRuleOut.model_validate(r) for r in rows], lambda r: r.id)


@router.get("/benefit-rules/renewals", response_model=RuleRenewals)
async def list_rule_renewals(
    _: Bureau,
    session: DbSession,
    request: Request,
    year: Annotated[int | None, Query(ge=2020, le=2100)] = None,
) -> RuleRenewals:
    """Which rules have a version for the year (default: the coming year from the warning
    period on, else this one) and which carry last year's over; missing ones first."""
    today = city_date()
    warning_days = request.app.state.settings.benefit_rule_warning_days
    year = year or rule_service.renewal_year(today, warning_days)
    rows = await rule_service.renewals(session, year)
    keys = sorted(
        (
            RuleRenewalOut(
                insurance_type=r.insurance_type,
                disease_id=r.disease.id,
                disease_code=r.disease.code,
                disease_name_zh=r.disease.name_zh,
                institution_level=r.institution_level,
                renewed=r.own is not None,
                carried=BenefitRuleOut.model_validate(r.carried) if r.carried else None,
                own=BenefitRuleOut.model_validate(r.own) if r.own else None,
            )
            for r in rows
        ),
        key=lambda k: (k.renewed, k.disease_code, k.insurance_type, k.institution_level),
    )
    first_day = date(year, 1, 1)
    return RuleRenewals(
        year=year,
        first_day=first_day,
        days_left=(first_day - today).days,
        missing=sum(not k.renewed for k in keys),
        keys=keys,
    )


@router.post("/benefit-rules", response_model=BenefitRuleOut, status_code=201)
async def create_benefit_rule(
    body: BenefitRuleCreate, principal: Bureau, session: DbSession
) -> BenefitRuleOut:
    """Bureau staff publish a new rule version, effective today or later."""
    return BenefitRuleOut.model_validate(
        await rule_service.create_version(session, principal, body)
    )


@router.get("/orders/{order_id}/quote", response_model=SettlementQuote)
async def get_order_quote(
    order_id: uuid.UUID, principal: PatientOnly, session: DbSession
) -> SettlementQuote:
    """The patient's split of an order: the pre-settlement before hand-over, the settled split
    after it (`basis` says which; `reversed` when the settlement was undone)."""
    now = utcnow()
    quote = await insurance_repository.latest_visible_quote(session, principal, order_id, now)
    settled = await insurance_repository.latest_visible_settlement_of_order(
        session, principal, order_id, now
    )
    if settled is not None:
        items = await insurance_repository.settlement_items(session, settled.id)
        reversal = await insurance_repository.reversal_of(session, settled.id)
        await audit_service.record(
            session, principal, AuditAction.read, "settlement", settled.id, settled.patient_id
        )
        return SettlementQuote.from_settlement(settled, list(items), reversal, quote)
    if quote is None:
        raise NotFound()
    await audit_service.record(
        session, principal, AuditAction.read, "settlement_quote", quote.id, quote.patient_id
    )
    return SettlementQuote.from_row(quote)


@router.get("/settlements", response_model=SettlementPage)
async def list_settlements(
    principal: SettlementReader,
    session: DbSession,
    page: PageQuery,
) -> SettlementPage:
    """Settlements and reversals the caller may see, newest first."""
    resume = page.after(datetime)
    rows = await insurance_repository.list_visible_settlements(
        session, principal, utcnow(), resume[0] if resume else None, page.limit
    )
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        "settlement",
        [(r.id, r.patient_id) for r in rows[: page.limit]],
    )
    items = [SettlementOut.from_row(r) for r in rows]
    return page.page_as(SettlementPage, items, lambda s: (s.settled_at,))


@router.get("/settlements/{settlement_id}", response_model=SettlementOut)
async def get_settlement(
    settlement_id: uuid.UUID, principal: SettlementReader, session: DbSession
) -> SettlementOut:
    """One settlement or reversal with its drug lines (and, where the insurance platform
    settled it, its `setl_id` and the local estimate beside the split booked), if the caller
    may see it."""
    row = await insurance_repository.get_visible_settlement(
        session, principal, settlement_id, utcnow()
    )
    if row is None:
        raise NotFound("settlement_not_found")
    items = await insurance_repository.settlement_items(session, row.id)
    reversal = await insurance_repository.reversal_of(session, row.id)
    platform = await insurance_repository.platform_settlement_of(session, row.id)
    await audit_service.record(
        session, principal, AuditAction.read, "settlement", row.id, row.patient_id
    )
    return SettlementOut.from_row(row, list(items), reversal, platform)


@router.post("/settlements/{settlement_id}/flags", response_model=FlagOut, status_code=201)
async def flag_settlement(
    settlement_id: uuid.UUID, body: FlagCreate, principal: Reviewer, session: DbSession
) -> FlagOut:
    """A family doctor (own patients) or bureau reviewer flags a doubtful settlement: it is
    held out of its statement's payable until the bureau decides (flagging again returns the
    reviewer's flag)."""
    row = await flag_service.flag(session, principal, settlement_id, body.reason)
    reviews = await flag_service.reviews_of(session, [row])
    return FlagOut.from_row(row, reviews.get(row.review_id) if row.review_id else None)


@router.post("/settlements/{settlement_id}/review", response_model=FlagReviewOut)
async def review_settlement(
    settlement_id: uuid.UUID, body: FlagReviewCreate, principal: Bureau, session: DbSession
) -> FlagReviewOut:
    """The bureau decides the open flags of a settlement: confirmed (paid with the next
    statement) or rejected (reversed; recovered by the next statement if already paid)."""
    return FlagReviewOut.from_row(
        await flag_service.review(session, principal, settlement_id, body.decision, body.note)
    )


@router.get("/flags", response_model=FlaggedPage)
async def list_flagged(_: Bureau, session: DbSession, page: PageQuery) -> FlaggedPage:
    """Flagged settlements for the bureau's claim review, newest flag first."""
    resume = page.after(datetime)
    pairs = await flag_service.flagged(session, resume[0] if resume else None, page.limit)
    reviews = await flag_service.reviews_of(session, [f for f, _ in pairs])
    items = [
        FlaggedSettlement(
            flag=FlagOut.from_row(f, reviews.get(f.review_id) if f.review_id else None),
            settlement=SettlementOut.from_row(s),
        )
        for f, s in pairs
    ]
    return page.page_as(FlaggedPage, items, lambda f: (f.flag.flagged_at,))


@router.post("/statements", response_model=StatementOut, status_code=201)
async def generate_statement(
    body: StatementCreate, principal: Bureau, session: DbSession
) -> StatementOut:
    """Generate an institution's statement of a closed month (idempotent)."""
    statement = await statement_service.generate(
        session, principal, body.institution_id, body.month
    )
    return StatementOut.from_row(statement)


@router.get("/statements", response_model=StatementPage)
async def list_statements(
    _: Bureau,
    session: DbSession,
    page: PageQuery,
    institution_id: uuid.UUID | None = None,
    month: MonthQuery = None,
) -> StatementPage:
    """Statements, newest month first."""
    rows = await statement_service.listed(session, institution_id, month)
    found = page.page_in_order([StatementOut.from_row(r) for r in rows], lambda s: s.id)
    return StatementPage(items=found.items, next=found.next)


@router.get("/statements/{statement_id}", response_model=StatementDetail)
async def get_statement(statement_id: uuid.UUID, _: Bureau, session: DbSession) -> StatementDetail:
    """The statement with every settlement and reversal it covers (the JSON export), the
    disputed lines held out of the payable, releases and carried negative payables."""
    return statement_views.statement_detail(await statement_service.view(session, statement_id))


_STATEMENT_CSV_EXAMPLE = "\n".join(
    (
        ",".join(statement_service.CSV_COLUMNS),
        "2026-11-03T09:14:22+08:00,settlement,6a1e9c37-2f8b-4d05-b7e4-1c3a9d5f8e20,,"
        "140300202611030914220001,c5e81f3a-92d4-4b6e-a07c-3d1b8f9e2a56,"
        "3c9f1a52-7d4e-4b8a-9e21-6a0d5f2c8b17,M01603,390,14,12860,9002,0,3858,,9002",
        "2026-11-05T16:40:03+08:00,reversal,d08b3f61-7a2c-4e9d-85f1-2b6c0e4a9d73,"
        "6a1e9c37-2f8b-4d05-b7e4-1c3a9d5f8e20,140300202611051640030002,"
        "c5e81f3a-92d4-4b6e-a07c-3d1b8f9e2a56,3c9f1a52-7d4e-4b8a-9e21-6a0d5f2c8b17,M01603,390,14,"
        "-12860,-9002,0,-3858,,-9002",
        "2026-11-12T11:02:47+08:00,settlement,2f7c4a18-b35e-4d96-a0c2-8e1d5b3f7a49,,"
        "140300202611121102470003,7b2e9d04-1c6a-4f38-9e5b-0d4a7c2f1e86,"
        "91d3e7a5-4c20-4b8f-b6e1-5a9c2d0f3b74,M03900,310,14,24500,17150,4000,3350,disputed,0",
        "total 2026-11,2 settlements / 1 reversals,,,,,,,,,24500,17150,4000,3350,"
        "held 17150 / released 0 / carried in 0,0",
    )
)
_STATEMENT_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The statement as CSV (text/csv, UTF-8 with a byte-order mark, sent as an attachment "
            "named statement-<month>-<institution_id>.csv). Columns: settled_at (Asia/Shanghai "
            "time with offset), kind (settlement, reversal, released or carried_in), "
            "settlement_id, reverses_id (the settlement a reversal undoes), message_id (the "
            "bureau transaction's message id), order_id, patient_id, disease_code, "
            "insurance_type (310 employee, 390 resident), med_type, total_fen, fund_fen, "
            "account_fen, cash_fen (integer fen; a reversal's are negative), review (disputed: "
            "held out of this payable; flagged: flagged after the statement counted it), "
            "payable_fen. The last line holds the totals; payable_fen sums to the statement's "
            "payable."
        ),
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": _STATEMENT_CSV_EXAMPLE,
            }
        },
    }
}


@router.get(
    "/statements/{statement_id}/export.csv",
    response_class=Response,
    responses=_STATEMENT_CSV,
)
async def export_statement_csv(statement_id: uuid.UUID, _: Bureau, session: DbSession) -> Response:
    """The statement as CSV (UTF-8 with BOM so spreadsheet software reads the Chinese)."""
    current = await statement_service.view(session, statement_id)
    statement = current.statement
    filename = f"statement-{statement.month}-{statement.institution_id}.csv"
    return Response(
        content="\ufeff" + statement_service.to_csv(current),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/statements/{statement_id}/confirm", response_model=StatementOut)
async def confirm_statement(
    statement_id: uuid.UUID, principal: Bureau, session: DbSession
) -> StatementOut:
    """The bureau confirms a statement."""
    return StatementOut.from_row(await statement_service.confirm(session, principal, statement_id))


@router.post("/statements/{statement_id}/payment", response_model=StatementOut)
async def record_statement_payment(
    statement_id: uuid.UUID, body: StatementPaymentCreate, principal: Bureau, session: DbSession
) -> StatementOut:
    """Record the bureau's payment to the institution for a confirmed statement."""
    statement = await statement_service.record_payment(
        session, principal, statement_id, body.amount_fen, body.reference, body.paid_on
    )
    return StatementOut.from_row(statement)


@router.post("/statements/{statement_id}/recovery", response_model=StatementOut)
async def record_statement_recovery(
    statement_id: uuid.UUID, body: StatementRecoveryCreate, principal: Bureau, session: DbSession
) -> StatementOut:
    """Record what the institution paid back for a confirmed statement with a negative payable
    (the other way to settle it is to carry it into the next statement made)."""
    statement = await statement_service.record_recovery(
        session, principal, statement_id, body.amount_fen, body.reference, body.paid_on
    )
    return StatementOut.from_row(statement)


@router.post("/ledger/corrections", response_model=LedgerCorrectionOut, status_code=201)
async def correct_ledger(
    body: LedgerCorrectionCreate, principal: Bureau, session: DbSession
) -> LedgerCorrectionOut:
    """Negate a mistaken remittance, recovery, payment or refund transaction with new entries
    (with the reason; the ledger is never changed). A corrected remittance reopens its
    statement for the right payment. Each transaction is corrected once."""
    return LedgerCorrectionOut.from_row(
        await correction_service.correct(session, principal, body.transaction_id, body.reason)
    )


@router.get("/ledger/transactions", response_model=LedgerTransactionPage)
async def list_ledger_transactions(
    _: Bureau,
    session: DbSession,
    page: PageQuery,
    institution_id: uuid.UUID | None = None,
    statement_id: uuid.UUID | None = None,
    settlement_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
) -> LedgerTransactionPage:
    """Ledger transactions matching every given reference, newest first (by their last
    entry), with their corrections (what a correction names)."""
    resume = page.after(NonNegativeInt64)
    entries = await ledger_repository.transactions(
        session,
        institution_id,
        statement_id,
        settlement_id,
        payment_id,
        page.limit,
        resume[0] if resume else None,
    )
    grouped: dict[uuid.UUID, list[LedgerEntry]] = {}
    for entry in entries:
        grouped.setdefault(entry.transaction_id, []).append(entry)
    corrections = await ledger_repository.corrections_by_transaction(session, list(grouped))
    ordered = sorted(grouped.values(), key=lambda rows: max(e.id for e in rows), reverse=True)
    found = page.page(ordered, lambda rows: (max(e.id for e in rows),))
    return LedgerTransactionPage(
        items=[
            LedgerTransactionOut.from_entries(rows, corrections.get(rows[0].transaction_id))
            for rows in found.items
        ],
        next=found.next,
    )
