"""Insured-identity bodies: a patient's declaration, a clerk's verification, and their views."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.kit.masking import mask_national_id
from app.kit.pagination import Page
from app.models import IdentityDeclaration, InsuredIdentity

InsuranceType = Literal["310", "390"]
NATIONAL_ID = Field(pattern=r"^\d{17}[\dX]$", description="18-character resident ID number")
AREA = Field(pattern=r"^\d{6}$", description="Administrative code of the insured area (参保地)")


class DeclarationCreate(BaseModel):
    """What the patient says their insured identity is (checked against the verified one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "national_id": "140302195803120042",
                    "insurance_type": "390",
                    "insured_area": "140300",
                }
            ]
        },
    )

    national_id: str = NATIONAL_ID
    insurance_type: InsuranceType
    insured_area: str = AREA


class DeclarationReceipt(BaseModel):
    """The same answer whatever the number: a declaration is only ever received."""

    id: uuid.UUID
    declared_at: datetime
    status: Literal["received"] = "received"


class VerificationCreate(BaseModel):
    """What a bureau clerk checked in the person's insurance documents."""

    model_config = ConfigDict(extra="forbid")

    national_id: str = NATIONAL_ID
    insurance_type: InsuranceType
    insured_area: str = AREA
    personal_account: bool = False
    personal_account_balance_fen: int = Field(default=0, ge=0, le=100_000_000_000)
    # The document or case the clerk checked (e.g. a social-security card scan reference).
    reference: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _account_only_for_employees(self) -> VerificationCreate:
        if self.personal_account and self.insurance_type != "310":
            raise ValueError("only employee insurance (310) has a personal account")
        if not self.personal_account and self.personal_account_balance_fen:
            raise ValueError("a balance needs a personal account")
        return self


class PlatformVerificationCreate(BaseModel):
    """Whom a bureau clerk asks the insurance platform about (its person query, 1101): the
    platform's answer, not the clerk, says what the insured identity is."""

    model_config = ConfigDict(extra="forbid")

    national_id: str = NATIONAL_ID
    insured_area: str = AREA


class DeclarationOut(BaseModel):
    national_id: str = Field(description="In full for the patient, masked for staff lists")
    insurance_type: InsuranceType
    insured_area: str
    declared_at: datetime

    @classmethod
    def of(cls, row: IdentityDeclaration, *, reveal: bool) -> DeclarationOut:
        """The declaration as shown; `reveal` shows the number in full."""
        national_id = row.national_id if reveal else mask_national_id(row.national_id)
        return cls(
            national_id=national_id or "",
            insurance_type=row.insurance_type,
            insured_area=row.insured_area,
            declared_at=row.declared_at,
        )


class VerifiedIdentityOut(BaseModel):
    id: uuid.UUID
    national_id: str
    insurance_type: InsuranceType
    insured_area: str
    personal_account: bool
    personal_account_available_fen: int = Field(
        description="The balance reported at verification less what settlements used since"
    )
    source: Literal["staff", "insurer_platform"]
    source_reference: str | None
    verified_at: datetime
    verified_by_account_id: uuid.UUID | None


class IdentityStatus(BaseModel):
    """Declared and verified side by side; settlement needs both, and equal."""

    declared: DeclarationOut | None
    verified: VerifiedIdentityOut | None
    # Fields where they differ (national_id, insurance_type, insured_area); null until both
    # exist. Settlement refuses unless this is an empty list.
    differences: list[str] | None
    settleable: bool


class ReviewItem(BaseModel):
    """A declaration of a certificate number another patient holds."""

    declaration_id: uuid.UUID
    patient_id: uuid.UUID
    declared: DeclarationOut


class ReviewPage(Page[ReviewItem]):
    """Declarations waiting for a clerk, newest first."""


def verified_out(row: InsuredIdentity, available_fen: int) -> VerifiedIdentityOut:
    """The verified identity as shown to its patient or to staff (number in full)."""
    return VerifiedIdentityOut(
        id=row.id,
        national_id=row.national_id,
        insurance_type=row.insurance_type,
        insured_area=row.insured_area,
        personal_account=row.personal_account,
        personal_account_available_fen=available_fen,
        source=row.source,
        source_reference=row.source_reference,
        verified_at=row.verified_at,
        verified_by_account_id=row.verified_by_account_id,
    )
