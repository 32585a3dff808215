"""Reference data bodies."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

InstitutionLevel = Literal["secondary", "tertiary"]
InsuranceClass = Literal["full", "partial", "self_pay"]


class DistrictOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name_zh: str
    name_en: str
    is_county: bool
    is_mountainous: bool


class InstitutionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    level: InstitutionLevel
    district_code: str
    is_designated: bool
    is_online_pilot: bool


class InstitutionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[A-Za-z0-9-]+$",
        description="National designated-institution code: H + 6-digit area code + 5 digits",
    )
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    level: InstitutionLevel
    district_code: str = Field(pattern=r"^\d{6}$")
    is_designated: bool = True
    is_online_pilot: bool = False


class InstitutionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str | None = Field(default=None, min_length=1, max_length=64)
    name_en: str | None = Field(default=None, min_length=1, max_length=128)
    level: InstitutionLevel | None = None
    is_designated: bool | None = None
    is_online_pilot: bool | None = None


class PharmacyStoreOut(BaseModel):
    id: uuid.UUID
    chain_id: uuid.UUID
    code: str
    fixmedins_code: str | None = Field(description="National designated-pharmacy code")
    name_zh: str
    name_en: str
    district_code: str
    address_zh: str
    covered_district_codes: list[str]


class PharmacyStoreCreate(BaseModel):
    """A partner chain's new store; a designated pharmacy carries its national code."""

    model_config = ConfigDict(extra="forbid")
    chain_code: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$")
    fixmedins_code: str = Field(
        min_length=12, max_length=12, description="P + 6-digit area code + 5-digit sequence"
    )
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    district_code: str = Field(pattern=r"^\d{6}$")
    address_zh: str = Field(min_length=1, max_length=128)
    covers: list[str] = Field(
        min_length=1, max_length=20, description="District codes the store delivers to"
    )


class ChronicDiseaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    code: str
    national_code: str
    category_code: str
    name_zh: str
    name_en: str
    online_admitted: bool


class DrugOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    national_code: str
    generic_name_zh: str
    generic_name_en: str
    product_name_zh: str
    form: str
    strength: str
    pack: str
    manufacturer_zh: str
    price_fen: int = Field(description="Price per pack in fen (1 yuan = 100 fen)")
    insurance_class: InsuranceClass
    cold_chain: bool
    controlled: bool


class DrugCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_code: str = Field(pattern=r"^[XZ][A-Z0-9]{22}$", description="23-char national code")
    generic_name_zh: str = Field(min_length=1, max_length=64)
    generic_name_en: str = Field(min_length=1, max_length=128)
    product_name_zh: str = Field(min_length=1, max_length=64)
    form: str = Field(min_length=1, max_length=32)
    strength: str = Field(min_length=1, max_length=32)
    pack: str = Field(min_length=1, max_length=32)
    manufacturer_zh: str = Field(min_length=1, max_length=64)
    price_fen: int = Field(ge=0, le=10_000_000_00)
    insurance_class: InsuranceClass
    cold_chain: bool = False
    controlled: bool = False


class DrugUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_name_zh: str | None = Field(default=None, min_length=1, max_length=64)
    pack: str | None = Field(default=None, min_length=1, max_length=32)
    manufacturer_zh: str | None = Field(default=None, min_length=1, max_length=64)
    price_fen: int | None = Field(default=None, ge=0, le=10_000_000_00)
    insurance_class: InsuranceClass | None = None
    cold_chain: bool | None = None
    controlled: bool | None = None
