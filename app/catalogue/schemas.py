"""Catalogue bodies: an edition is a full snapshot of the catalogue from its effective date."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.bounded import NonNegativeInt64

InsuranceType = Literal["310", "390"]
INSURANCE_TYPES: tuple[InsuranceType, ...] = ("310", "390")


class CatalogueEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disease_code: str = Field(min_length=1, max_length=16, examples=["M01603"])
    online_admitted: bool = Field(description="Admitted by the online service")
    annual_limits_fen: dict[InsuranceType, NonNegativeInt64] = Field(
        description="Annual limit per insurance type, in fen (310 employee, 390 resident)",
        examples=[{"310": 500000, "390": 400000}],
    )


class CatalogueEditionCreate(BaseModel):
    """A new edition: the complete catalogue as it will be from `effective_from`."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date = Field(description="City date (Asia/Shanghai) it takes effect")
    note: str = Field(min_length=1, max_length=200)
    entries: list[CatalogueEntryIn] = Field(min_length=1, max_length=500)


class CatalogueEntryOut(BaseModel):
    disease_code: str
    national_code: str
    category_zh: str
    name_zh: str
    name_en: str
    online_admitted: bool
    annual_limits_fen: dict[str, int]


class CatalogueEditionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    effective_from: date
    note: str
    created_at: datetime


class CatalogueEditionOut(CatalogueEditionSummary):
    entries: list[CatalogueEntryOut]
