"""Nightscout bodies: the credential a patient manages, and entries as uploaders speak them."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class NightscoutStatus(BaseModel):
    configured: bool
    rotated_at: datetime | None
    device_id: uuid.UUID | None = Field(description="The CGM device uploads land on")


class NightscoutSecret(BaseModel):
    """Shown once: enter `secret` (or its SHA-1) as the uploader's API secret."""

    secret: str
    api_secret_sha1: str = Field(description="What uploaders send in the `api-secret` header")
    rotated_at: datetime
    device_id: uuid.UUID
    base_path: str = Field(description="Nightscout base URL path (append to the server address)")
