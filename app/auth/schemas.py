"""Request and response bodies of the sign-in endpoints."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from app.models import Role


class WeChatLogin(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "0c3Xk1Ga1hqVNK0vCdJa1pLx3E3Xk1GO"}]},
    )
    code: str = Field(min_length=1, max_length=128, description="The code from wx.login()")


class PasswordLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=16, max_length=128)


class AccountOut(BaseModel):
    id: uuid.UUID
    role: Role
    display_name: str
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    store_id: uuid.UUID | None = None


class TokenPair(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str = Field(description="Single use: each refresh returns a new one")
    refresh_expires_in: int
    account: AccountOut
