"""One pagination style for every list: `?cursor=&limit=` in, `{"items": [...], "next": ...}` out.

- `limit`: page size, default DEFAULT_LIMIT (50), at most MAX_LIMIT (200) unless a list of
  small rows documents larger pages (readings: 500, at most 5000); beyond the maximum is a 422.
- `cursor`: omit for the first page; pass the previous page's `next` for the following one.
  It is opaque to clients: URL-safe base64 of the JSON sort key of the page's last item, so the
  next page starts strictly after that item (keyset pagination: an insert between two requests
  neither repeats nor skips an item of the same order). A cursor that does not decode, or decodes
  to a key of the wrong shape, answers 422 `invalid_cursor`.
- `next`: null on the last page. A list read from the database gives a `next` with every full
  page (its items are exactly the rows read, and audited, for it), so a list whose length is a
  multiple of `limit` ends with an empty page; a list held whole in memory knows its end.
A list keeps its documented order (and its own filters); the cursor only says where to resume.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import ColumnElement, and_, or_

from app.errors import AppError
from app.kit.bounded import Int64
from app.kit.time_bounds import CalendarDate, Instant

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# A cursor is a short key; anything longer is not one of ours.
CURSOR_MAX_LENGTH = 512

T = TypeVar("T")
P = TypeVar("P", bound="Page[Any]")
# One element of a sort key: what a cursor can carry.
KeyPart = str | int | float | bool | uuid.UUID | datetime | date | None


class InvalidCursor(AppError):
    status = 422
    code = "invalid_cursor"


class Page(BaseModel, Generic[T]):
    """A page of a list and the cursor of the next one."""

    items: list[T]
    next: str | None = Field(
        description="Opaque cursor of the next page (pass it as `cursor`); null on the last page"
    )


def _plain(part: KeyPart) -> Any:
    if isinstance(part, datetime | date):
        return part.isoformat()
    if isinstance(part, uuid.UUID):
        return str(part)
    return part


def encode_cursor(key: Sequence[KeyPart]) -> str:
    """The opaque cursor of a sort key."""
    text = json.dumps([_plain(p) for p in key], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@functools.cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    # Times and integers are bounded as the query parameters they replace were (a cursor is
    # client input): an instant the database can hold, an integer of the column's width.
    return TypeAdapter({datetime: Instant, date: CalendarDate, int: Int64}.get(kind, kind))


def _typed(value: Any, kind: Any) -> Any:
    if value is None:
        return None
    if kind in (datetime, date, uuid.UUID):
        if not isinstance(value, str):
            raise ValueError("not a string")
        return _adapter(kind).validate_python(value)
    return _adapter(kind).validate_python(value, strict=True)


def decode_cursor(cursor: str, *kinds: Any) -> tuple[Any, ...]:
    """The sort key a cursor carries, its parts validated as `kinds` (str, int, uuid.UUID,
    datetime, date, or a bounded type such as NonNegativeInt32); 422 when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
        if not isinstance(parts, list) or len(parts) != len(kinds):
            raise ValueError("wrong shape")
        return tuple(_typed(value, kind) for value, kind in zip(parts, kinds, strict=True))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidCursor() from exc


@dataclass(frozen=True)
class PageParams:
    """A list request's `cursor` and `limit`."""

    cursor: str | None
    limit: int

    def after(self, *kinds: Any) -> tuple[Any, ...] | None:
        """The sort key to resume after (None on the first page)."""
        return decode_cursor(self.cursor, *kinds) if self.cursor is not None else None

    def page(self, rows: Sequence[T], key: Callable[[T], Sequence[KeyPart]]) -> Page[T]:
        """The page of `rows`, fetched in list order with `limit` rows at most: a full page has
        a `next` (the rows of a page are exactly the rows read, and audited, for it)."""
        return self._page(list(rows[: self.limit]), len(rows) >= self.limit, key)

    def _page(self, items: list[T], more: bool, key: Callable[[T], Sequence[KeyPart]]) -> Page[T]:
        following = encode_cursor(key(items[-1])) if more and items else None
        return Page[T](items=items, next=following)

    def page_as(
        self, model: type[P], rows: Sequence[Any], key: Callable[[Any], Sequence[KeyPart]]
    ) -> P:
        """`page()` as a named page model (a list's own schema name in the OpenAPI document)."""
        found = self.page(rows, key)
        return model(items=found.items, next=found.next)

    def page_in_order(self, rows: Sequence[T], id_of: Callable[[T], uuid.UUID]) -> Page[T]:
        """The page of a short list held whole in memory, in the order given, that resumes
        after the item with the cursor's id (422 if that item has left the list)."""
        after = self.after(uuid.UUID)
        start = 0
        if after is not None:
            ids = [id_of(r) for r in rows]
            if after[0] not in ids:
                raise InvalidCursor()
            start = ids.index(after[0]) + 1
        items = list(rows[start : start + self.limit])
        return self._page(items, len(rows) > start + self.limit, lambda r: (id_of(r),))

    def page_of_all(
        self,
        rows: Sequence[T],
        key: Callable[[T], Sequence[KeyPart]],
        *kinds: Any,
        descending: bool = False,
    ) -> Page[T]:
        """The page of a complete list held in memory, in `key` order (short reference lists,
        or lists computed whole, such as a doctor's panel)."""
        ordered = sorted(rows, key=lambda r: tuple(key(r)), reverse=descending)
        after = self.after(*kinds)
        if after is not None:
            if descending:
                ordered = [r for r in ordered if tuple(key(r)) < after]
            else:
                ordered = [r for r in ordered if tuple(key(r)) > after]
        return self._page(ordered[: self.limit], len(ordered) > self.limit, key)


def beyond(columns: Sequence[Any], key: Sequence[Any], *, descending: bool) -> ColumnElement[bool]:
    """SQL: rows strictly after `key` in the order of `columns` (all descending, or all
    ascending), the keyset condition of a page that resumes after a cursor."""
    first, *rest = columns
    beyond_first: ColumnElement[bool] = first < key[0] if descending else first > key[0]
    if not rest:
        return beyond_first
    return or_(beyond_first, and_(first == key[0], beyond(rest, key[1:], descending=descending)))


def page_query(default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Callable[..., PageParams]:
    """The dependency reading a list's `cursor` and `limit` (a list of small rows, such as
    readings, may take larger pages than the default)."""

    # Plain defaults, not Annotated: the module's annotations are strings, and these bounds
    # are the closure's.
    def page_params(
        cursor: str | None = Query(
            None,
            max_length=CURSOR_MAX_LENGTH,
            description="Where the page starts: the previous page's `next` (omit for the "
            "first page)",
        ),
        limit: int = Query(
            default,
            ge=1,
            le=maximum,
            description=f"Items per page (default {default}, at most {maximum})",
        ),
    ) -> PageParams:
        return PageParams(cursor, limit)

    return page_params


# The parameters of every list: `Annotated[PageParams, Depends(page_query(500, 5000))]` for one
# with other page sizes.
PageQuery = Annotated[PageParams, Depends(page_query())]
