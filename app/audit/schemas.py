"""What a patient sees of the audit trail of their records."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_serializer

from app.kit.clock import to_shanghai
from app.kit.pagination import Page


class AccessLogEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_account_id: uuid.UUID | None
    actor_role: str
    actor_name: str
    action: str
    resource_type: str
    resource_id: str | None
    request_id: str | None

    @field_serializer("occurred_at")
    def _shanghai(self, value: datetime) -> str:
        return to_shanghai(value).isoformat()


class AccessLogPage(Page[AccessLogEntry]):
    """A page of my access log, newest first."""
