"""Catalogue bodies: an edition is a full snapshot of the catalogue from its effective date."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.bounded import NonNegativeInt64

InsuranceType = Literal["310", "390"]
INSURANCE_TYPES: tuple[InsuranceType, ...] = ("310", "390")

# National chronic/special disease codes: M + three digits of category + two of disease.
DISEASE_CODE = r"^M\d{5}$"
CATEGORY_CODE = r"^M\d{3}$"


class CatalogueEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disease_code: str = Field(min_length=1, max_length=16, examples=["M01603"])
    online_admitted: bool = Field(description="Admitted by the online service")
    annual_limits_fen: dict[InsuranceType, NonNegativeInt64] = Field(
        description="Annual limit (按病种限额) per insurance type, in fen (310 employee, "
        "390 resident): what the fund pays for this disease in a year at most",
        examples=[{"310": 500000, "390": 400000}],
    )


class CatalogueEditionCreate(BaseModel):
    """A new edition: the complete catalogue as it will be from `effective_from`."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date = Field(description="City date (Asia/Shanghai) it takes effect")
    note: str = Field(min_length=1, max_length=200)
    entries: list[CatalogueEntryIn] = Field(min_length=1, max_length=500)


class DiseaseCategoryData(BaseModel):
    """A catalogue category (大类) as a catalogue file lists it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CATEGORY_CODE)
    name_zh: str = Field(min_length=1, max_length=32)
    name_en: str = Field(min_length=1, max_length=128)


class DiseaseData(BaseModel):
    """A disease as a catalogue file lists it: the disease itself and its entry."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=DISEASE_CODE, description="The city's code (local sub-codes)")
    national_code: str = Field(pattern=DISEASE_CODE)
    category_code: str = Field(pattern=CATEGORY_CODE)
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    online_admitted: bool
    annual_limits_fen: dict[InsuranceType, NonNegativeInt64]


class CatalogueFile(BaseModel):
    """A city's catalogue edition as data (app/catalogue/editions/*.json): its categories,
    its diseases with their national codes, and each disease's annual limits."""

    model_config = ConfigDict(extra="forbid")

    effective_from: date
    note: str = Field(min_length=1, max_length=200)
    categories: list[DiseaseCategoryData] = Field(min_length=1, max_length=200)
    diseases: list[DiseaseData] = Field(min_length=1, max_length=500)

    def edition(self) -> CatalogueEditionCreate:
        """The edition the file publishes."""
        return CatalogueEditionCreate(
            effective_from=self.effective_from,
            note=self.note,
            entries=[
                CatalogueEntryIn(
                    disease_code=d.code,
                    online_admitted=d.online_admitted,
                    annual_limits_fen=d.annual_limits_fen,
                )
                for d in self.diseases
            ],
        )


class CatalogueEntryOut(BaseModel):
    disease_code: str
    national_code: str
    category_code: str
    category_zh: str
    category_en: str
    name_zh: str
    name_en: str
    online_admitted: bool
    annual_limits_fen: dict[str, int]


class DiseaseCategoryOut(BaseModel):
    """A category with the codes of the edition's diseases in it."""

    code: str
    name_zh: str
    name_en: str
    disease_codes: list[str]


class CatalogueEditionSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    effective_from: date
    note: str
    created_at: datetime


class CatalogueEditionOut(CatalogueEditionSummary):
    categories: list[DiseaseCategoryOut]
    entries: list[CatalogueEntryOut]
