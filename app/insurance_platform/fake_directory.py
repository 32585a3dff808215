"""Where the development fake platform learns what it was not told through its control
endpoints, so the demo journey runs with it switched on: persons from the service's verified
identities, terms from its benefit rules, each disease's annual limit from the catalogue in
force, catalogue classes from its drugs. Served only with
the fake (dev, never in prod); tests tell the fake everything instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.catalogue import service as catalogue_service
from app.insurance_platform import repository
from app.insurance_platform.fake import FakePerson, FakeTerms
from app.kit.clock import city_date
from app.kit.crypto import blind_index
from app.kit.money import fen_to_yuan

LEVELS: dict[str, Literal["01", "02", "03"]] = {"full": "01", "partial": "02", "self_pay": "03"}


class DatabaseDirectory:
    """The fake's directory over the service's own database (its sessions found lazily: the
    fake is mounted before the application's lifespan opens the engine)."""

    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession]]) -> None:
        self._sessions = sessions

    async def person(self, certno: str) -> FakePerson | None:
        async with self._sessions()() as session:
            identity = await repository.verified_by_index(session, blind_index(session, certno))
        if identity is None:
            return None
        return FakePerson(
            certno=identity.national_id,
            insutype=identity.insurance_type,
            insuplc_admdvs=identity.insured_area,
            balc=fen_to_yuan(identity.personal_account_balance_fen),
        )

    async def terms(self, insutype: str) -> FakeTerms | None:
        async with self._sessions()() as session:
            rule = await repository.newest_rule_of_type(session, insutype, city_date())
        if rule is None:
            return None
        return FakeTerms(
            deductible_fen=rule.deductible_fen,
            reimbursement_bp=rule.reimbursement_bp,
            partial_prepay_bp=rule.partial_prepay_bp,
        )

    async def annual_limit(self, insutype: str, dise_codg: str) -> int | None:
        async with self._sessions()() as session:
            disease = await repository.disease_by_code(session, dise_codg)
            if disease is None:
                return None
            return await catalogue_service.annual_limit_fen(
                session, disease.id, insutype, city_date()
            )

    async def classes(self, codes: Sequence[str]) -> dict[str, Literal["01", "02", "03"]]:
        async with self._sessions()() as session:
            found = await repository.drug_classes(session, codes)
        return {code: LEVELS[kind] for code, kind in found.items() if kind in LEVELS}
