"""Staff administration bodies: a new staff member, a suspension, a move, and the per-row
report of a spreadsheet import."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# The roles an admin creates here; a pharmacist works at a store, or reviews an institution's
# prescriptions (a prescription reviewer), by where they are placed.
StaffRole = Literal["doctor", "pharmacist", "courier"]
WorkplaceKind = Literal["institution", "store"]

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
DISEASE_CODE_PATTERN = r"^[A-Z]\d{5}$"


class StaffCreate(BaseModel):
    """A doctor (at an institution), a prescription reviewer (a pharmacist at an institution),
    a store pharmacist or a courier (at a store)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: StaffRole
    username: str = Field(
        min_length=3, max_length=64, description="Lower-case letters, digits, '.', '_', '-'"
    )
    display_name: str = Field(min_length=1, max_length=64)
    institution_code: str | None = Field(default=None, min_length=1, max_length=32)
    store_code: str | None = Field(default=None, min_length=1, max_length=32)
    department_zh: str | None = Field(default=None, min_length=1, max_length=32)
    title_zh: str | None = Field(default=None, min_length=1, max_length=32)
    specialties: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Catalogue disease codes a doctor treats, e.g. M01600",
    )
    max_active_patients: int | None = Field(default=None, ge=1, le=5000)
    initial_password: SecretStr | None = Field(
        default=None,
        min_length=12,
        max_length=128,
        description="Omit to have a random one generated and returned once",
    )

    @field_validator("username", mode="before")
    @classmethod
    def _lower_username(cls, value: object) -> object:
        # One person, one name: "Dr.Li" and "dr.li" must not become two accounts.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("username")
    @classmethod
    def _username_shape(cls, value: str) -> str:
        if re.fullmatch(USERNAME_PATTERN, value) is None:
            raise ValueError("username: lower-case letters, digits, '.', '_', '-'")
        return value

    @field_validator("specialties")
    @classmethod
    def _specialty_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            if re.fullmatch(DISEASE_CODE_PATTERN, code) is None:
                raise ValueError(f"not a disease code: {code}")
        return list(dict.fromkeys(value))


class WorkplaceOut(BaseModel):
    """Where a staff member works."""

    kind: WorkplaceKind
    id: uuid.UUID
    code: str
    name_zh: str


class StaffOut(BaseModel):
    account_id: uuid.UUID
    role: str
    username: str
    display_name: str
    is_active: bool
    is_prescription_reviewer: bool
    doctor_id: uuid.UUID | None
    workplace: WorkplaceOut | None
    created_at: datetime


class StaffCreated(StaffOut):
    initial_password: str | None = Field(
        description="The generated initial password, shown this once (null when the admin "
        "chose it); hand it to the person, who signs in with it"
    )


class PasswordReset(BaseModel):
    account_id: uuid.UUID
    initial_password: str = Field(description="The new password, shown this once")


class StaffSuspend(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)


class StaffReinstate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200)


class StaffMove(BaseModel):
    """Move a staff member to another institution or store (exactly one), with the reason."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    institution_code: str | None = Field(default=None, min_length=1, max_length=32)
    store_code: str | None = Field(default=None, min_length=1, max_length=32)
    reason: str = Field(min_length=1, max_length=200)


class StaffEventOut(BaseModel):
    """One audited act on a staff account."""

    occurred_at: datetime
    action: str
    actor_name: str
    actor_role: str
    detail: dict[str, Any] | None


class ImportRowOut(BaseModel):
    row: int
    username: str | None
    account_id: uuid.UUID | None = Field(description="Set once the row is created")
    initial_password: str | None = Field(description="Generated password, shown this once")


class StaffImportReport(BaseModel):
    """What an import did, or (dry run) would do: every row, and nothing when any is wrong."""

    dry_run: bool
    applied: bool
    rows: list[ImportRowOut]
