"""SQL for benefit rules, quotas, settlements, flags and quotes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.kit.sql import insert_ignoring_conflicts, one_of
from app.models import (
    Account,
    BenefitRule,
    ChronicDisease,
    InsuranceQuota,
    InsuranceQuotaDisease,
    PlatformSettlement,
    Presettlement,
    Role,
    Settlement,
    SettlementFlag,
    SettlementItem,
)


def settlement_scope(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Settlements the caller may see: bureau all, store staff their store's, else by patient."""
    if principal.role == Role.bureau:
        return true()
    if principal.role in (Role.courier, Role.pharmacist) and principal.store_id is not None:
        return Settlement.store_id == principal.store_id
    return patient_scope(principal, Settlement.patient_id, now)


# --- benefit rules ---


def _rule_key(
    insurance_type: str, disease_id: uuid.UUID, level: str, year: int
) -> ColumnElement[bool]:
    return and_(
        BenefitRule.insurance_type == insurance_type,
        BenefitRule.disease_id == disease_id,
        BenefitRule.institution_level == level,
        BenefitRule.year == year,
    )


async def lock_disease_for_rule_versions(
    session: AsyncSession, disease_id: uuid.UUID
) -> ChronicDisease | None:
    """The disease, locked FOR NO KEY UPDATE until the transaction ends, so the versions of
    its rules are numbered one writer at a time (rows that only reference it are not blocked);
    None when there is no such disease."""
    return await session.get(ChronicDisease, disease_id, with_for_update={"key_share": True})


async def rule_versions(
    session: AsyncSession, insurance_type: str, disease_id: uuid.UUID, level: str, year: int
) -> Sequence[BenefitRule]:
    """Every version of one rule key, newest version first."""
    statement = (
        select(BenefitRule)
        .where(_rule_key(insurance_type, disease_id, level, year))
        .order_by(BenefitRule.version.desc())
    )
    return (await session.scalars(statement)).all()


async def rule_in_force(
    session: AsyncSession,
    insurance_type: str,
    disease_id: uuid.UUID,
    level: str,
    on: date,
) -> BenefitRule | None:
    """The version in force on `on`: the latest year up to `on`'s, then the latest effective
    date up to `on`, then the highest version. A rule stays in force until replaced, so a year
    without its own version yet carries the previous year's on."""
    statement = (
        select(BenefitRule)
        .where(
            BenefitRule.insurance_type == insurance_type,
            BenefitRule.disease_id == disease_id,
            BenefitRule.institution_level == level,
            BenefitRule.year <= on.year,
            BenefitRule.effective_from <= on,
        )
        .order_by(
            BenefitRule.year.desc(), BenefitRule.effective_from.desc(), BenefitRule.version.desc()
        )
        .limit(1)
    )
    return await session.scalar(statement)


async def rules_up_to(session: AsyncSession, year: int) -> Sequence[BenefitRule]:
    """Every rule version of `year` and before, newest first within each key."""
    statement = (
        select(BenefitRule)
        .where(BenefitRule.year <= year)
        .order_by(
            BenefitRule.insurance_type,
            BenefitRule.disease_id,
            BenefitRule.institution_level,
            BenefitRule.year.desc(),
            BenefitRule.effective_from.desc(),
            BenefitRule.version.desc(),
        )
    )
    return (await session.scalars(statement)).all()


async def list_rules(
    session: AsyncSession, year: int | None, insurance_type: str | None
) -> Sequence[BenefitRule]:
    """Rule versions, optionally of one year and insurance type, in key and version order."""
    statement = select(BenefitRule)
    if year is not None:
        statement = statement.where(BenefitRule.year == year)
    if insurance_type is not None:
        statement = statement.where(BenefitRule.insurance_type == insurance_type)
    statement = statement.order_by(
        BenefitRule.year,
        BenefitRule.insurance_type,
        BenefitRule.disease_id,
        BenefitRule.institution_level,
        BenefitRule.version,
    )
    return (await session.scalars(statement)).all()


async def diseases_by_id(
    session: AsyncSession, disease_ids: Sequence[uuid.UUID]
) -> Sequence[ChronicDisease]:
    """Catalogue diseases by id."""
    if not disease_ids:
        return []
    return (
        await session.scalars(select(ChronicDisease).where(ChronicDisease.id.in_(disease_ids)))
    ).all()


async def bureau_accounts(session: AsyncSession) -> Sequence[uuid.UUID]:
    """The active bureau staff accounts."""
    return (
        await session.scalars(
            select(Account.id)
            .where(Account.role == Role.bureau, Account.is_active.is_(True))
            .order_by(Account.id)
        )
    ).all()


# --- quotas ---


async def lock_quota(session: AsyncSession, patient_id: uuid.UUID, year: int) -> InsuranceQuota:
    """The patient-year quota row, created if missing and locked until the transaction ends."""
    # PostgreSQL: FOR UPDATE serialises every settlement and reversal of this patient-year.
    # SQLite: BEGIN IMMEDIATE (app.db) already serialises writers; FOR UPDATE is not rendered.
    await session.execute(
        insert_ignoring_conflicts(session, InsuranceQuota).values(
            patient_id=patient_id, year=year, deductible_met_fen=0
        )
    )
    quota = await session.scalar(
        select(InsuranceQuota)
        .where(InsuranceQuota.patient_id == patient_id, InsuranceQuota.year == year)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert quota is not None
    return quota


async def disease_quota(
    session: AsyncSession, patient_id: uuid.UUID, year: int, disease_id: uuid.UUID
) -> InsuranceQuotaDisease:
    """The limit used of one disease in a patient-year (call under `lock_quota`)."""
    await session.execute(
        insert_ignoring_conflicts(session, InsuranceQuotaDisease).values(
            patient_id=patient_id, year=year, disease_id=disease_id, limit_used_fen=0
        )
    )
    row = await session.scalar(
        select(InsuranceQuotaDisease)
        .where(
            InsuranceQuotaDisease.patient_id == patient_id,
            InsuranceQuotaDisease.year == year,
            InsuranceQuotaDisease.disease_id == disease_id,
        )
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def peek_quota(
    session: AsyncSession, patient_id: uuid.UUID, year: int, disease_id: uuid.UUID
) -> tuple[int, int]:
    """(deductible met, limit used) without locking or creating anything (for quotes)."""
    met = await session.scalar(
        select(InsuranceQuota.deductible_met_fen).where(
            InsuranceQuota.patient_id == patient_id, InsuranceQuota.year == year
        )
    )
    used = await session.scalar(
        select(InsuranceQuotaDisease.limit_used_fen).where(
            InsuranceQuotaDisease.patient_id == patient_id,
            InsuranceQuotaDisease.year == year,
            InsuranceQuotaDisease.disease_id == disease_id,
        )
    )
    return met or 0, used or 0


# --- settlements ---


async def settlement_by_message(session: AsyncSession, message_id: str) -> Settlement | None:
    """The settlement or reversal booked under an insurer message id."""
    return await session.scalar(select(Settlement).where(Settlement.message_id == message_id))


async def get_settlement(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement | None:
    """A settlement or reversal by id (no scope: for trusted server-side callers)."""
    return await session.get(Settlement, settlement_id)


async def get_visible_settlement(
    session: AsyncSession, principal: Principal, settlement_id: uuid.UUID, now: datetime
) -> Settlement | None:
    """A settlement or reversal the caller may see."""
    return await session.scalar(
        select(Settlement).where(Settlement.id == settlement_id, settlement_scope(principal, now))
    )


async def list_visible_settlements(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    before: datetime | None,
    limit: int,
) -> Sequence[Settlement]:
    """The caller's settlements and reversals, newest first."""
    statement = select(Settlement).where(settlement_scope(principal, now))
    if before is not None:
        statement = statement.where(Settlement.settled_at < before)
    statement = statement.order_by(Settlement.settled_at.desc(), Settlement.id).limit(limit)
    return (await session.scalars(statement)).all()


async def reversal_of(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement | None:
    """The reversal of a settlement, if any."""
    return await session.scalar(select(Settlement).where(Settlement.reverses_id == settlement_id))


async def reversals_of(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Settlement]:
    """Reversals of several settlements, keyed by the settlement they reverse."""
    if not settlement_ids:
        return {}
    rows = await session.scalars(
        select(Settlement).where(one_of(session, Settlement.reverses_id, settlement_ids))
    )
    return {row.reverses_id: row for row in rows if row.reverses_id is not None}


async def unreversed_settlement_of_order(
    session: AsyncSession, order_id: uuid.UUID
) -> Settlement | None:
    """The order's settlement that has not been reversed, if any."""
    reversed_ids = select(Settlement.reverses_id).where(Settlement.reverses_id.is_not(None))
    return await session.scalar(
        select(Settlement).where(
            Settlement.order_id == order_id,
            Settlement.kind == "settlement",
            Settlement.id.not_in(reversed_ids),
        )
    )


async def settlement_items(
    session: AsyncSession, settlement_id: uuid.UUID
) -> Sequence[SettlementItem]:
    """The drug lines of a settlement in line order."""
    return (
        await session.scalars(
            select(SettlementItem)
            .where(SettlementItem.settlement_id == settlement_id)
            .order_by(SettlementItem.line_no)
        )
    ).all()


async def add_items(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert drug lines (executemany)."""
    await session.execute(insert(SettlementItem), rows)


# --- flags ---


async def flag_by_reviewer(
    session: AsyncSession, settlement_id: uuid.UUID, account_id: uuid.UUID
) -> SettlementFlag | None:
    """This reviewer's flag on this settlement, if any."""
    return await session.scalar(
        select(SettlementFlag).where(
            SettlementFlag.settlement_id == settlement_id,
            SettlementFlag.account_id == account_id,
        )
    )


async def list_flags(
    session: AsyncSession, before: datetime | None, limit: int
) -> Sequence[tuple[SettlementFlag, Settlement]]:
    """Flags with their settlements, newest first."""
    statement = select(SettlementFlag, Settlement).join(
        Settlement, Settlement.id == SettlementFlag.settlement_id
    )
    if before is not None:
        statement = statement.where(SettlementFlag.flagged_at < before)
    statement = statement.order_by(SettlementFlag.flagged_at.desc(), SettlementFlag.id).limit(limit)
    return [(flag, settlement) for flag, settlement in (await session.execute(statement)).all()]


async def flag_counts(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many reviewers flagged each settlement."""
    if not settlement_ids:
        return {}
    rows = await session.execute(
        select(SettlementFlag.settlement_id, func.count())
        .where(one_of(session, SettlementFlag.settlement_id, settlement_ids))
        .group_by(SettlementFlag.settlement_id)
    )
    return {settlement_id: count for settlement_id, count in rows}


# --- quotes ---


async def quote_by_message(session: AsyncSession, message_id: str) -> Presettlement | None:
    """The quote computed under a message id."""
    return await session.scalar(select(Presettlement).where(Presettlement.message_id == message_id))


async def latest_visible_quote(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, now: datetime
) -> Presettlement | None:
    """The newest quote of an order, if the caller may see its patient."""
    return await session.scalar(
        select(Presettlement)
        .where(
            Presettlement.order_id == order_id,
            patient_scope(principal, Presettlement.patient_id, now),
        )
        .order_by(Presettlement.computed_at.desc(), Presettlement.id)
        .limit(1)
    )


async def latest_visible_settlement_of_order(
    session: AsyncSession, principal: Principal, order_id: uuid.UUID, now: datetime
) -> Settlement | None:
    """The order's latest settlement (not a reversal), if the caller may see its patient."""
    return await session.scalar(
        select(Settlement)
        .where(
            Settlement.order_id == order_id,
            Settlement.kind == "settlement",
            patient_scope(principal, Settlement.patient_id, now),
        )
        .order_by(Settlement.settled_at.desc(), Settlement.id)
        .limit(1)
    )


async def platform_settlement_of(
    session: AsyncSession, settlement_id: uuid.UUID
) -> PlatformSettlement | None:
    """The insurance platform's side of a local settlement or reversal (its `setl_id`, and the
    local estimate kept beside the split booked)."""
    return await session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == settlement_id)
    )
