"""Masking of sensitive identifiers for display (138****1234)."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str | None:
    """Keep the first three and last four digits of a phone number."""
    if phone is None:
        return None
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_national_id(national_id: str | None) -> str | None:
    """Keep the six-digit region code and the last four characters of a resident ID number."""
    if national_id is None:
        return None
    if len(national_id) <= 10:
        return "*" * len(national_id)
    return national_id[:6] + "*" * (len(national_id) - 10) + national_id[-4:]


def mask_openid(openid: str | None) -> str | None:
    """Keep the first and last four characters of a WeChat openid (enough to tell users apart
    in a log, not to address one)."""
    if openid is None:
        return None
    if len(openid) <= 8:
        return "*" * len(openid)
    return openid[:4] + "*" * (len(openid) - 8) + openid[-4:]
