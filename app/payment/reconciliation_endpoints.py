"""The bureau's reconciliation of a monthly statement, under the insurance paths: it reads the
statement, the ledger and the payments, so it sits with payment, the one package above both
insurance and the ledger."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.insurance.schemas import Reconciliation
from app.models import Role
from app.payment import reconciliation as reconciliation_service

router = APIRouter(prefix="/api/v1/insurance", tags=["insurance"])

Bureau = Annotated[Principal, require_roles(Role.bureau)]


@router.get("/statements/{statement_id}/reconciliation", response_model=Reconciliation)
async def reconcile_statement(
    statement_id: uuid.UUID, _: Bureau, session: DbSession
) -> Reconciliation:
    """Statement vs ledger vs payments, to the fen, with every difference listed."""
    return await reconciliation_service.reconcile(session, statement_id)
