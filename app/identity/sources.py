"""Where a verified insured identity comes from: the seam an authoritative source plugs into.

The insurance platform's person query (the national platform's transaction 1101) implements
`InsuredIdentitySource`; until it answers, a bureau clerk attests what they checked
(`staff_attestation`). Both produce a `PersonRecord`, which `identity.service.record_verified`
stores, audited, as the verified identity. Nothing a patient sends ever becomes a
`PersonRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

InsuranceType = Literal["310", "390"]
SourceName = Literal["staff", "insurer_platform"]


@dataclass(frozen=True)
class PersonRecord:
    """What an authoritative source says about one insured person."""

    national_id: str
    insurance_type: InsuranceType
    # Administrative code of the area the person is insured in (参保地).
    insured_area: str
    # Employees (310) may have a personal account (个人账户) and its usable balance.
    personal_account: bool
    personal_account_balance_fen: int
    source: SourceName
    # The source's own reference: the platform's message id, or the document a clerk saw.
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.personal_account and self.insurance_type != "310":
            raise ValueError("only employee insurance (310) has a personal account")
        if self.personal_account_balance_fen < 0 or (
            not self.personal_account and self.personal_account_balance_fen
        ):
            raise ValueError("a balance needs a personal account and cannot be negative")


class InsuredIdentitySource(Protocol):
    """An authoritative person query (e.g. the national platform's 1101 transaction)."""

    async def look_up(self, national_id: str, insured_area: str) -> PersonRecord | None:
        """The insured person with this certificate number in this area, or None if unknown."""
        ...


def staff_attestation(
    *,
    national_id: str,
    insurance_type: InsuranceType,
    insured_area: str,
    personal_account: bool,
    personal_account_balance_fen: int,
    reference: str | None,
) -> PersonRecord:
    """The record a bureau clerk attests after checking the person's insurance documents."""
    return PersonRecord(
        national_id=national_id.strip().upper(),
        insurance_type=insurance_type,
        insured_area=insured_area,
        personal_account=personal_account,
        personal_account_balance_fen=personal_account_balance_fen,
        source="staff",
        reference=reference,
    )
