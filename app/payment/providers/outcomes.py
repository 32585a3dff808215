"""What a provider says about a refund, in the service's terms."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ProviderRefundStatus(StrEnum):
    # The money is back with the patient.
    succeeded = "succeeded"
    # Accepted, not finished (WeChat PROCESSING; Alipay without a fund change yet).
    processing = "processing"
    # Will not happen without a new request (WeChat CLOSED or ABNORMAL).
    failed = "failed"
    # The provider has no such refund (never received, or refused on arrival).
    not_found = "not_found"


@dataclass(frozen=True)
class ProviderRefund:
    status: ProviderRefundStatus
    provider_refund_id: str | None = None
    # The provider's word for it (e.g. ABNORMAL), for staff.
    detail: str | None = None
