"""Request and response shapes of the prescription endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.bounded import PositiveInt32

Frequency = Literal["qd", "qn", "bid", "tid", "qid"]
VisitKind = Literal["follow_up", "first_visit"]


class PrescriptionItemIn(BaseModel):
    """One line: a formulary drug with dose, frequency, route and days' supply."""

    drug_id: uuid.UUID
    dose: Decimal = Field(gt=0, max_digits=8, decimal_places=2, description="per administration")
    frequency: Frequency
    route: str | None = Field(default=None, max_length=16, description="default from formulary")
    days_supply: int = Field(ge=1, le=365)


class PrescriptionCreate(BaseModel):
    """A new prescription written in a follow-up consultation."""

    patient_id: uuid.UUID
    disease_id: uuid.UUID
    diagnosis_zh: str = Field(min_length=1, max_length=200)
    visit_kind: VisitKind = "follow_up"
    consultation_id: uuid.UUID | None = None
    is_long: bool = Field(default=False, description="long prescription, stable chronic patient")
    valid_days: int = Field(default=1, ge=1, le=30)
    items: list[PrescriptionItemIn] = Field(min_length=1, max_length=10)


class PrescriptionRevise(BaseModel):
    """New lines for a prescription the pharmacist returned; it goes back to draft."""

    diagnosis_zh: str | None = Field(default=None, min_length=1, max_length=200)
    is_long: bool | None = None
    valid_days: int | None = Field(default=None, ge=1, le=30)
    items: list[PrescriptionItemIn] = Field(min_length=1, max_length=10)


class Renewal(BaseModel):
    """Renew a long prescription: same lines unless new ones are given."""

    diagnosis_zh: str | None = Field(default=None, min_length=1, max_length=200)
    valid_days: int = Field(default=1, ge=1, le=30)
    items: list[PrescriptionItemIn] | None = Field(default=None, min_length=1, max_length=10)


class Reason(BaseModel):
    """Why (rejection, revocation)."""

    reason: str = Field(min_length=1, max_length=500)


class ReviewerCreate(BaseModel):
    """Make a hospital pharmacist the reviewer of an institution's prescriptions."""

    account_id: uuid.UUID
    institution_id: uuid.UUID


class ReviewerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    institution_id: uuid.UUID


class FormularyItemIn(BaseModel):
    """How a drug may be prescribed for a disease."""

    therapeutic_class: str = Field(min_length=1, max_length=32)
    dose_unit: str = Field(min_length=1, max_length=8)
    units_per_pack: PositiveInt32
    max_daily_quantity: Decimal = Field(gt=0, max_digits=8, decimal_places=2)
    default_route: str = Field(min_length=1, max_length=16)


class FormularyItemOut(FormularyItemIn):
    model_config = ConfigDict(from_attributes=True)

    disease_id: uuid.UUID
    drug_id: uuid.UUID
    national_code: str
    generic_name_zh: str
    product_name_zh: str
    strength: str
    pack: str
    price_fen: int
    insurance_class: str
    cold_chain: bool


class PrescriptionItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    line_no: int
    drug_id: uuid.UUID
    drug_name_zh: str
    dose_quantity: str
    dose_unit: str
    frequency: str
    route: str
    days_supply: int
    packs: int
    unit_price_fen: int
    amount_fen: int
    cold_chain: bool


class TransitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    actor_account_id: uuid.UUID | None
    at: datetime
    reason: str | None


class SignatureOut(BaseModel):
    """Everything an outside verifier needs: the signed bytes, the signature, the public key."""

    algorithm: str
    key_id: uuid.UUID
    public_key: str
    signed_content: str
    signature: str
    signed_at: datetime


class PrescriptionOut(BaseModel):
    id: uuid.UUID
    status: str
    patient_id: uuid.UUID
    doctor_id: uuid.UUID
    institution_id: uuid.UUID
    disease_id: uuid.UUID
    entitlement_id: uuid.UUID
    consultation_id: uuid.UUID | None
    renewal_of_id: uuid.UUID | None
    diagnosis_zh: str
    is_long: bool
    written_on: date
    valid_days: int
    valid_until: date
    expired: bool
    days_supply: int
    total_fen: int
    review_reason: str | None
    revoke_reason: str | None
    items: list[PrescriptionItemOut]
    signature: SignatureOut | None
    history: list[TransitionOut] = []


class PrescriptionPage(BaseModel):
    items: list[PrescriptionOut]
