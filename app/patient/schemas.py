"""Patient profile bodies; identifiers are masked unless the caller is the patient."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.kit.masking import mask_national_id, mask_phone
from app.kit.pagination import Page
from app.kit.time_bounds import CalendarDate
from app.models import Patient

Gender = Literal["male", "female", "unknown"]
InsuranceType = Literal["310", "390"]


class PatientOut(BaseModel):
    id: uuid.UUID
    name: str | None
    gender: Gender
    birth_date: date | None
    national_id: str | None = Field(
        description="The verified certificate number; masked (140302********1234) unless your own"
    )
    phone: str | None = Field(description="Masked (138****1234) unless your own")
    insurance_type: InsuranceType = Field(description="As verified by the insurance office")
    district_code: str | None
    address: str | None
    timezone: str

    @classmethod
    def from_patient(cls, patient: Patient, *, reveal: bool) -> PatientOut:
        """Build the body; `reveal` shows identifiers in full (the patient's own view)."""
        return cls(
            id=patient.id,
            name=patient.name,
            gender=patient.gender,
            birth_date=patient.birth_date,
            national_id=patient.national_id if reveal else mask_national_id(patient.national_id),
            phone=patient.phone if reveal else mask_phone(patient.phone),
            insurance_type=patient.insurance_type,
            district_code=patient.district_code,
            address=patient.address,
            timezone=patient.timezone,
        )


class PatientPage(Page[PatientOut]):
    """A page of patients, by id."""


class PatientUpdate(BaseModel):
    """Fields a patient owns on their own profile; omitted fields stay as they are.

    Insured identity (certificate number, insurance type, insured area, personal account) is
    not among them: it is verified by the insurance office, and a patient declares theirs at
    /api/v1/patients/me/identity/declarations. Sending an identity field here is refused
    (422 validation_failed, `extra_forbidden` at the field), never silently dropped."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "display_name": "秀兰",
                    "name": "王秀兰",
                    "gender": "female",
                    "birth_date": "1958-03-12",
                    "phone": "13934561234",
                    "district_code": "140302",
                    "address": "山西省阳泉市城区桃北东街15号院3号楼2单元401",
                }
            ]
        },
    )

    # WeChat no longer tells a mini-program the user's nickname: a new account is "微信用户"
    # until the patient gives the name they show (the nickname input of the profile page).
    display_name: Annotated[str, Field(min_length=1, max_length=64)] | SkipJsonSchema[None] = Field(
        default=None,
        description="The name I show in the app and in my conversations (my nickname)",
    )
    name: str | None = Field(default=None, min_length=1, max_length=64)
    # Every patient has a gender: it may be changed but not cleared (null is refused; the
    # schema shows it non-nullable).
    gender: Gender | SkipJsonSchema[None] = None
    birth_date: CalendarDate | None = None
    phone: str | None = Field(default=None, pattern=r"^1\d{10}$", description="Mainland mobile")
    district_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    address: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("gender", "display_name")
    @classmethod
    def _not_cleared(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("may be changed but not cleared")
        return value
