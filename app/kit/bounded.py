"""Integers a request may carry, bounded by the columns they reach (422 beyond, never a
database overflow): use these for every integer query, path and body field.

PostgreSQL refuses an INTEGER above 2**31 - 1 and a BIGINT above 2**63 - 1; SQLite stores
64 bits and its driver raises OverflowError beyond them. An unbounded `int` from a request
therefore turns a typo or a probe into a 500 and a dropped connection.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval

from app.kit.time_bounds import FIRST_YEAR, LAST_YEAR

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# INTEGER columns (sequence numbers, counts, pack sizes)
Int32 = Annotated[int, Interval(ge=INT32_MIN, le=INT32_MAX)]
NonNegativeInt32 = Annotated[int, Interval(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Interval(ge=1, le=INT32_MAX)]
# BIGINT columns (ids of append-only tables, amounts in fen)
Int64 = Annotated[int, Interval(ge=INT64_MIN, le=INT64_MAX)]
NonNegativeInt64 = Annotated[int, Interval(ge=0, le=INT64_MAX)]
PositiveInt64 = Annotated[int, Interval(ge=1, le=INT64_MAX)]
# Calendar years, the range the service accepts in times (1900-2999)
Year = Annotated[int, Interval(ge=FIRST_YEAR, le=LAST_YEAR)]
