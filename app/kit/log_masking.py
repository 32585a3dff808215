"""The last line of defence for personal identifiers in logs: a structlog processor that masks
openids, mobile numbers and resident ID numbers wherever they appear in a log record.

Code is expected to log masked values already (app/kit/masking.py); this catches the line that
forgot - a value under a sensitive key, or an identifier pasted into a message or an exception
text - before the renderer writes it out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from functools import partial
from typing import Any

from app.kit.masking import mask_national_id, mask_openid, mask_phone

# Keys whose whole value is an identifier, matched inside the lower-cased key (so
# `patient_phone`, `touser` and `wechat_openid` are covered as well as `phone`).
_OPENID_KEYS = ("openid", "unionid", "touser")
_PHONE_KEYS = ("phone", "mobile")
_ID_NUMBER_KEYS = ("national_id", "id_card", "idcard", "id_number", "cert_no", "certno")

# 18-character resident ID number (GB 11643: 17 digits and a digit or X checksum).
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# Mainland mobile number, optionally behind +86 / 86.
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86)?1[3-9]\d{9}(?![0-9A-Za-z])")
# A WeChat openid in free text: 28 characters starting with "o" (oXXXX...).
_OPENID = re.compile(r"(?<![0-9A-Za-z_-])o[0-9A-Za-z_-]{27}(?![0-9A-Za-z_-])")

_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[str | None], str | None]], ...] = (
    (_RESIDENT_ID, mask_national_id),
    (_MOBILE, mask_phone),
    (_OPENID, mask_openid),
)


def _key_masker(key: str) -> Callable[[str | None], str | None] | None:
    lowered = key.lower()
    for names, mask in (
        (_OPENID_KEYS, mask_openid),
        (_PHONE_KEYS, mask_phone),
        (_ID_NUMBER_KEYS, mask_national_id),
    ):
        if any(name in lowered for name in names):
            return mask
    return None


def _replace(mask: Callable[[str | None], str | None], found: re.Match[str]) -> str:
    return mask(found.group()) or ""


def mask_text(text: str) -> str:
    """`text` with every resident ID number, mobile number and openid in it masked."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(partial(_replace, mask), text)
    return text


def _mask_value(value: Any, by_key: Callable[[str | None], str | None] | None) -> Any:
    if isinstance(value, str):
        masked = by_key(value) if by_key is not None else None
        return masked if masked is not None else mask_text(value)
    if isinstance(value, dict):
        return {key: _mask_value(item, _key_masker(str(key))) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_mask_value(item, by_key) for item in value]
    return value


def mask_sensitive(
    _: object, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask identifiers under sensitive keys and by pattern everywhere
    (the event text and a rendered exception included, so run it after format_exc_info)."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _mask_value(value, _key_masker(str(key)))
    return event_dict
