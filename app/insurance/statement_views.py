"""Statement JSON: the month's lines, what is held out and why, what was released or carried
into it - built from one `StatementView` so JSON, CSV and reconciliation agree."""

from __future__ import annotations

import uuid

from app.insurance.schemas import (
    CarriedStatement,
    DisputedLine,
    FlagOut,
    ReleasedLine,
    SettlementOut,
    StatementDetail,
    StatementLineOut,
    StatementOut,
)
from app.insurance.statements import StatementView, original_of, payable_of
from app.kit.clock import to_shanghai
from app.models import Settlement, Statement, StatementCarry


def flags_out(current: StatementView, settlement_id: uuid.UUID) -> list[FlagOut]:
    """The flags on a settlement (a reversal shows those of the settlement it undoes)."""
    return [
        FlagOut.from_row(f, current.reviews.get(f.review_id) if f.review_id else None)
        for f in current.flags.get(settlement_id, [])
    ]


def _line(current: StatementView, row: Settlement) -> StatementLineOut:
    held = current.held.get(row.id, False)
    return StatementLineOut(
        **SettlementOut.from_row(row).model_dump(),
        held=held,
        payable_fen=0 if held else payable_of(row),
        flags=flags_out(current, original_of(row)),
    )


def disputed(current: StatementView) -> list[DisputedLine]:
    """The held lines with their flags and where their review stands."""
    return [
        DisputedLine(
            settlement_id=row.id,
            kind=row.kind,
            order_id=row.order_id,
            amount_fen=payable_of(row),
            dispute=current.disputes.get(original_of(row), "open"),
            released_into_statement_id=current.released_into.get(row.id),
            flags=flags_out(current, original_of(row)),
        )
        for row in current.rows
        if current.held.get(row.id)
    ]


def released(current: StatementView) -> list[ReleasedLine]:
    """Earlier held lines paid with this statement."""
    return [
        ReleasedLine(
            settlement_id=row.id,
            kind=row.kind,
            order_id=row.order_id,
            amount_fen=payable_of(row),
            held_in_statement_id=held_in.id,
            held_in_month=held_in.month,
            flags=flags_out(current, original_of(row)),
        )
        for row, held_in in current.released
    ]


def carried(carry: StatementCarry, statement: Statement) -> CarriedStatement:
    """A carried negative payable, naming the statement on the other side."""
    return CarriedStatement(
        statement_id=statement.id,
        month=statement.month,
        amount_fen=carry.amount_fen,
        carried_at=to_shanghai(carry.carried_at),
    )


def carried_out(current: StatementView) -> CarriedStatement | None:
    """Where this statement's negative payable went, if it was carried."""
    return carried(*current.carried_out) if current.carried_out is not None else None


def statement_detail(current: StatementView) -> StatementDetail:
    """The statement's JSON export."""
    return StatementDetail(
        **StatementOut.from_row(current.statement).model_dump(),
        lines=[_line(current, row) for row in current.rows],
        disputed=disputed(current),
        released=released(current),
        carried_in=[carried(carry, source) for carry, source in current.carried_in],
        carried_out=carried_out(current),
    )
