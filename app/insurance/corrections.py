"""The bureau's corrections of ledger mistakes (a remittance booked twice, a payment booked
against the wrong amount): a new transaction negates every entry of the named one, with the
reason, who and when kept beside it. The ledger stays append-only; reconciliation lists them.

Only money people or providers moved can be corrected (remittances, recoveries, payments,
refunds). Settlement and reversal entries mirror their settlement rows: a wrong settlement is
reversed, never corrected.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import statement_repository
from app.insurance import statements as statement_service
from app.kit.clock import utcnow
from app.kit.sql import add_unique
from app.ledger import posting
from app.ledger import repository as ledger_repository
from app.models import LedgerCorrection

RESOURCE = "insurance_ledger_correction"
CORRECTABLE_KINDS = frozenset({"remittance", "payment", "refund"})


async def correct(
    session: AsyncSession, principal: Principal, transaction_id: uuid.UUID, reason: str
) -> LedgerCorrection:
    """Negate a ledger transaction once (a second correction of it is 409)."""
    entries = await ledger_repository.entries_of(session, transaction_id)
    if not entries:
        raise NotFound("ledger_transaction_not_found")
    first = entries[0]
    if first.kind not in CORRECTABLE_KINDS:
        raise Conflict("ledger_correction_not_allowed", kind=first.kind)
    if await ledger_repository.is_correction(session, transaction_id):
        raise Conflict("ledger_correction_of_correction")
    statement = None
    if first.statement_id is not None:
        # Serialise with the statement's payment, so reopening it sees every remittance.
        statement = await statement_repository.lock_statement(session, first.statement_id)
    if await ledger_repository.correction_of(session, transaction_id) is not None:
        raise Conflict("ledger_transaction_already_corrected")
    correction_id = uuid.uuid4()
    row = LedgerCorrection(
        corrected_transaction_id=transaction_id,
        correction_transaction_id=correction_id,
        kind=first.kind,
        amount_fen=sum(e.amount_fen for e in entries if e.amount_fen > 0),
        institution_id=first.institution_id,
        statement_id=first.statement_id,
        reason=reason,
        account_id=principal.account_id,
        actor_name=principal.display_name[:64],
        corrected_at=utcnow(),
    )
    # The unique corrected_transaction_id decides between concurrent corrections.
    if not await add_unique(session, row):
        raise Conflict("ledger_transaction_already_corrected")
    await posting.post(
        session,
        first.kind,
        [posting.Posting(e.account, -e.amount_fen) for e in entries],
        posting.Refs(
            first.institution_id,
            patient_id=first.patient_id,
            settlement_id=first.settlement_id,
            payment_id=first.payment_id,
            statement_id=first.statement_id,
        ),
        transaction_id=correction_id,
    )
    if statement is not None and first.kind == "remittance":
        await statement_service.reopen_after_correction(session, statement)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, row.id, first.patient_id
    )
    return row
