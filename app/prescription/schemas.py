"""Request and response shapes of the prescription endpoints."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.bounded import PositiveInt32
from app.kit.pagination import Page

Frequency = Literal["qd", "qn", "bid", "tid", "qid"]
VisitKind = Literal["follow_up", "first_visit"]
SigningKeyStatus = Literal["pending", "active", "retired", "revoked"]

# Ed25519 in standard base64: a raw 32-byte public key, a 64-byte signature.
PublicKeyB64 = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="raw 32-byte Ed25519 public key, base64",
        examples=["11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
    ),
]
SignatureB64 = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9+/]{86}==$",
        description="64-byte Ed25519 signature, base64",
        examples=[
            "xkqb6bZK0v0LCG+Wco6cNx4nn3C+RxLPlZotVqcWjDG3H4naM+u0iotgK1YTQ0xku9gn4hVzT+I+e3ogGH3/Aw=="
        ],
    ),
]
Fingerprint = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of the raw public key, lowercase hex",
        examples=["21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"],
    ),
]


class PrescriptionItemIn(BaseModel):
    """One line: a formulary drug with dose, frequency, route and days' supply."""

    drug_id: uuid.UUID
    dose: Decimal = Field(gt=0, max_digits=8, decimal_places=2, description="per administration")
    frequency: Frequency
    route: str | None = Field(default=None, max_length=16, description="default from formulary")
    days_supply: int = Field(ge=1, le=365)


class PrescriptionCreate(BaseModel):
    """A new prescription written in a follow-up consultation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "patient_id": "3c9f1a52-7d4e-4b8a-9e21-6a0d5f2c8b17",
                    "disease_id": "8e2b6c14-0f3a-4d59-b7c8-1d9e4a6f2b30",
                    "diagnosis_zh": "2型糖尿病伴周围神经病变，复诊",
                    "visit_kind": "follow_up",
                    "consultation_id": "b41d7e09-25c6-4f8a-a3e1-7c5b9d0f6e24",
                    "is_long": True,
                    "valid_days": 3,
                    "items": [
                        {
                            "drug_id": "0a7e5c3b-9d21-4f6e-8b4a-2c1f7e9d5a63",
                            "dose": "0.5",
                            "frequency": "tid",
                            "route": "口服",
                            "days_supply": 30,
                        },
                        {
                            "drug_id": "5d3f8a1e-6b72-4c09-9e5d-4a8b2f1c7e96",
                            "dose": "1",
                            "frequency": "qd",
                            "days_supply": 30,
                        },
                    ],
                }
            ]
        }
    )

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


class PrescriptionReviewerCreate(BaseModel):
    """Make a hospital pharmacist the reviewer of an institution's prescriptions."""

    account_id: uuid.UUID
    institution_id: uuid.UUID


class PrescriptionReviewerOut(BaseModel):
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
    """Everything an outside verifier needs: the signed bytes, the signature, the public key,
    and the key's life (the signature counts only if made while the key was active)."""

    algorithm: str
    key_id: uuid.UUID
    public_key: str
    key_fingerprint: str
    key_status: SigningKeyStatus
    key_origin: Literal["device", "server_legacy"] = Field(
        description="device: generated and held by the doctor's device; server_legacy: "
        "generated by the service before 20261206 (private key since destroyed)"
    )
    key_activated_at: datetime | None
    key_retired_at: datetime | None
    key_revoked_at: datetime | None
    signed_content: str
    signature: str
    signed_at: datetime


class SigningPayloadOut(BaseModel):
    """The exact bytes the doctor's device signs: `signed_content` as UTF-8 (the canonical
    JSON: sorted keys, no spaces). Send it back unchanged with the signature before
    `expires_at`."""

    prescription_id: uuid.UUID
    key_id: uuid.UUID
    algorithm: Literal["Ed25519"]
    key_fingerprint: str
    signed_at: datetime
    expires_at: datetime
    signed_content: str


class SignatureIn(BaseModel):
    """The doctor's signature, made on their device, over the payload's `signed_content`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "signed_content": '{"algorithm":"Ed25519","consultation_id":null,'
                    '"days_supply":7,"diagnosis":"2型糖尿病伴周围神经病变，复诊",'
                    '"disease_code":"M01603","doctor_id":"5b0f7f3e-6a52-4c1e-9d1a-2f4e8b7c9a10",'
                    '"...":"(the payload\'s signed_content, unchanged)"}',
                    "signature": "xkqb6bZK0v0LCG+Wco6cNx4nn3C+RxLPlZotVqcWjDG3H4naM+u0iotgK1YTQ0"
                    "xku9gn4hVzT+I+e3ogGH3/Aw==",
                }
            ]
        }
    )

    signed_content: str = Field(min_length=2, max_length=16_000)
    signature: SignatureB64


class SigningKeyCreate(BaseModel):
    """A key the doctor's device generated: its public half, and its signature over the
    registration statement (canonical JSON of algorithm, doctor_id, public_key,
    purpose "register_signing_key" and v 1) proving the device holds the private half."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "algorithm": "Ed25519",
                    "public_key": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
                    "proof": "xkqb6bZK0v0LCG+Wco6cNx4nn3C+RxLPlZotVqcWjDG3H4naM+u0iotgK1YTQ0"
                    "xku9gn4hVzT+I+e3ogGH3/Aw==",
                    "device_label": "张医生的手机",
                }
            ]
        }
    )

    algorithm: Literal["Ed25519"] = "Ed25519"
    public_key: PublicKeyB64
    proof: SignatureB64
    device_label: str | None = Field(default=None, min_length=1, max_length=64)


class SigningKeyActivate(BaseModel):
    """The fingerprint the doctor's app shows, as the admin read it from the doctor."""

    fingerprint: Fingerprint


class SigningKeyOut(BaseModel):
    id: uuid.UUID
    doctor_id: uuid.UUID
    algorithm: str
    public_key: str
    fingerprint: str
    status: SigningKeyStatus
    origin: Literal["device", "server_legacy"]
    device_label: str | None
    registered_at: datetime
    registered_by_account_id: uuid.UUID | None
    activated_at: datetime | None
    activated_by_account_id: uuid.UUID | None
    retired_at: datetime | None
    revoked_at: datetime | None
    revoked_by_account_id: uuid.UUID | None
    revoke_reason: str | None


class SigningKeyPage(Page[SigningKeyOut]):
    """A page of signing keys, newest first."""


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


class PrescriptionPage(Page[PrescriptionOut]):
    """A page of prescriptions, newest first."""
