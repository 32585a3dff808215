"""Nightscout's `find[...]` and `count` query parameters, as its REST API answers them.

`find[date][$gte]=<epoch ms>`, `find[dateString][$lt]=<ISO 8601>`, `find[sgv][$lte]=180`,
`find[type]=sgv` and the bare `find[field]=value` (equality). Without a date condition Nightscout
looks back four days; `count` defaults to 10. Conditions on other fields are not supported and
are refused (400) rather than silently widening the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.datastructures import QueryParams

from app.errors import AppError

DEFAULT_COUNT = 10
MAX_COUNT = 10_000
# Nightscout constrains a query without any date condition to the last four days.
DEFAULT_LOOKBACK = timedelta(days=4)
_FIND = re.compile(r"^find\[(\w+)\](?:\[\$(gte|gt|lte|lt|eq)\])?$")
_KINDS = {"sgv": "cgm", "mbg": "bg"}


class BadQuery(AppError):
    status = 400
    code = "nightscout_bad_query"


@dataclass(frozen=True)
class EntryQuery:
    """What a reader asked for: entry kinds, a time window, value bounds and how many."""

    kinds: tuple[str, ...]
    since: datetime | None
    until: datetime | None
    value_low: float | None
    value_high: float | None
    count: int


def _moment(text: str, field: str) -> datetime:
    try:
        if field == "date" and re.fullmatch(r"-?\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text) / 1000.0, UTC)
        moment = datetime.fromisoformat(text.replace(" ", "+").replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise BadQuery(field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadQuery(field=field) from None


def entry_query(params: QueryParams, model: str | None, now: datetime) -> EntryQuery:
    """The query of a reader's parameters; `model` is the path's entry type (`sgv`, `mbg`)."""
    try:
        count = int(params.get("count", DEFAULT_COUNT))
    except ValueError:
        raise BadQuery(field="count") from None
    if not 1 <= count <= MAX_COUNT:
        raise BadQuery(field="count")
    model = params.get("find[type]") or params.get("find[type][$eq]") or model
    if model is not None and model not in _KINDS:
        kinds: tuple[str, ...] = ()
    else:
        kinds = (_KINDS[model],) if model else tuple(_KINDS.values())
    since = until = None
    low = high = None
    dated = False
    for key, value in params.multi_items():
        match = _FIND.match(key)
        if match is None:
            continue
        field, op = match.group(1), match.group(2) or "eq"
        if field == "type":
            continue
        if field in ("date", "dateString"):
            dated = True
            moment = _moment(value, field)
            if op in ("gte", "gt", "eq"):
                since = moment + timedelta(microseconds=1) if op == "gt" else moment
            if op in ("lte", "lt", "eq"):
                until = moment - timedelta(microseconds=1) if op == "lt" else moment
        elif field in ("sgv", "mbg"):
            # Entries show whole mg/dL rounded half up; compare as they show.
            number = _number(value, field)
            if op in ("gte", "gt", "eq"):
                low = number + 0.5 if op == "gt" else number - 0.5
            if op in ("lte", "lt", "eq"):
                high = (number - 0.5 if op == "lt" else number + 0.5) - 1e-9
        else:
            raise BadQuery(field=field)
    if not dated:
        since = now - DEFAULT_LOOKBACK
    return EntryQuery(kinds, since, until, low, high, count)
