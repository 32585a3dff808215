"""Fitting notification data to WeChat subscription-message field types.

A template key's type is the key without its number (`thing2` -> thing). WeChat refuses the
whole message (47003) when one value breaks its type's rule, so each value is fitted here:
shortened, reduced to the characters the type admits, or formatted (times in the city's zone).
Rules from the subscribeMessage.send documentation ("thing.DATA: 20 characters" ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from app.kit.clock import to_shanghai
from app.kit.money import fen_to_yuan

ELLIPSIS = "…"
THING_CHARS = 20
NAME_CHINESE_CHARS = 10
NAME_LATIN_CHARS = 20
PHRASE_CHARS = 5
CHARACTER_STRING_CHARS = 32
NUMBER_CHARS = 32
LETTER_CHARS = 32
SYMBOL_CHARS = 5
PHONE_NUMBER_CHARS = 17
CAR_NUMBER_CHARS = 8
AMOUNT_DIGITS = 10

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_TYPE = re.compile(r"^([a-z_]+?)\d*$")


Fitter = Callable[[Any], str]


class UnfittableValue(ValueError):
    """A value that no shortening makes acceptable (e.g. a phrase without Chinese)."""


def field_type(key: str) -> str:
    """The type of a template key: `thing12` -> "thing", `character_string3` -> ..."""
    match = _TYPE.match(key)
    if match is None or match.group(1) not in FITTERS:
        raise ValueError(f"unknown subscription-message field type in {key!r}")
    return match.group(1)


def fit(key: str, value: Any) -> str:
    """The value as template key `key`'s type admits it; UnfittableValue if none would do."""
    if value is None or value == "":
        raise UnfittableValue(f"{key} has no value")
    return FITTERS[field_type(key)](value)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _thing(value: Any) -> str:
    # Chinese, letters, digits and symbols; line breaks would show as nothing.
    return _shorten(" ".join(str(value).split()), THING_CHARS)


def _name(value: Any) -> str:
    text = " ".join(str(value).split())
    limit = NAME_CHINESE_CHARS if _CJK.search(text) else NAME_LATIN_CHARS
    return text[:limit]


def _phrase(value: Any) -> str:
    chinese = "".join(_CJK.findall(str(value)))[:PHRASE_CHARS]
    if not chinese:
        raise UnfittableValue(f"phrase needs Chinese characters, got {value!r}")
    return chinese


def _ascii(limit: int) -> Fitter:
    def fitter(value: Any) -> str:
        text = "".join(_PRINTABLE_ASCII.findall(str(value)))[:limit]
        if not text:
            raise UnfittableValue(f"no letters, digits or symbols in {value!r}")
        return text

    return fitter


def _letter(value: Any) -> str:
    text = "".join(c for c in str(value) if c.isascii() and c.isalpha())[:LETTER_CHARS]
    if not text:
        raise UnfittableValue(f"letter needs letters, got {value!r}")
    return text


def _number(value: Any) -> str:
    text = str(value)
    if isinstance(value, bool) or not _NUMBER.match(text) or len(text) > NUMBER_CHARS:
        raise UnfittableValue(f"not a number of at most {NUMBER_CHARS} characters: {value!r}")
    return text


def _amount(value: Any) -> str:
    # Amounts travel as integer fen; WeChat shows yuan with at most 10 integer digits.
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnfittableValue(f"amount must be integer fen, got {value!r}")
    if len(str(abs(value) // 100)) > AMOUNT_DIGITS:
        raise UnfittableValue(f"amount too large: {value!r}")
    return f"{fen_to_yuan(value)}元"


def _moment(value: Any) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    text = str(value)
    try:
        return (
            datetime.fromisoformat(text) if "T" in text or ":" in text else date.fromisoformat(text)
        )
    except ValueError:
        raise UnfittableValue(f"not an ISO date or time: {value!r}") from None


def _time(value: Any) -> str:
    moment = _moment(value)
    if not isinstance(moment, datetime):
        return moment.isoformat()
    if moment.tzinfo is None:
        raise UnfittableValue(f"a time needs its UTC offset: {value!r}")
    return to_shanghai(moment).strftime("%Y-%m-%d %H:%M")


def _date(value: Any) -> str:
    moment = _moment(value)
    return _time(moment) if isinstance(moment, datetime) else moment.isoformat()


FITTERS: dict[str, Fitter] = {
    "thing": _thing,
    "name": _name,
    "phrase": _phrase,
    "character_string": _ascii(CHARACTER_STRING_CHARS),
    "symbol": _ascii(SYMBOL_CHARS),
    "phone_number": _ascii(PHONE_NUMBER_CHARS),
    "car_number": lambda value: _shorten(str(value), CAR_NUMBER_CHARS),
    "letter": _letter,
    "number": _number,
    "amount": _amount,
    "time": _time,
    "date": _date,
}


def fitted_data(fields: dict[str, str], data: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The `data` object of a send request: each template key's fitted value, as
    `{"thing1": {"value": "..."}}`; UnfittableValue names the first key that cannot be."""
    return {key: {"value": fit(key, data.get(source))} for key, source in fields.items()}
