"""Calendar-month arithmetic, in one place: quotas, invoicing periods, usage partitions, licence
periods and the usage views all count in calendar months (UTC), and a month has no fixed length,
so `timedelta(days=31)` and hand-rolled `month + 1` are each wrong somewhere (December, the 31st,
a leap February).

Each function takes a `date` or a `datetime` and answers the same kind. The month an instant
falls in is its UTC month (an aware datetime is converted first; a naive one is taken as UTC
already, as `api.core.times` does); `add_months` alone counts in the value's own offset, since a
partner's licence period runs from the day as the partner wrote it.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime
from typing import TypeVar

When = TypeVar("When", date, datetime)

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
FIRST_YEAR, LAST_YEAR = 1, 9998


def _utc(value: When) -> When:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def add_months(value: When, count: int) -> When:
    """The same day of the month `count` months later (or earlier, when negative), clamped to the
    month's last day: 31 Jan + 1 = 28 Feb (29 in a leap year); the time of day and offset are kept."""
    year, index = divmod(value.year * 12 + value.month - 1 + count, 12)
    month = index + 1
    return value.replace(year=year, month=month, day=min(value.day, calendar.monthrange(year, month)[1]))


def month_start(value: When) -> When:
    """The first moment (first day) of the calendar month containing `value`."""
    value = _utc(value)
    if isinstance(value, datetime):
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return value.replace(day=1)


def next_month(value: When) -> When:
    """The first moment (first day) of the calendar month after the one containing `value`."""
    return add_months(month_start(value), 1)


def month_bounds(value: When) -> tuple[When, When]:
    """The calendar month containing `value`, as [its start, the next month's start)."""
    start = month_start(value)
    return start, add_months(start, 1)


def last_n_months(value: When, count: int) -> When:
    """Where a window of the last `count` calendar months ending with the one containing `value`
    starts: the month itself and the `count - 1` before it (12 on 1 Jan 2027: from 1 Feb 2026)."""
    if count < 1:
        raise ValueError("a window of months holds at least one month")
    return add_months(month_start(value), 1 - count)


def months_between(start: When, end: When, limit: int) -> int:
    """Calendar months covering start..end counted from `start`'s day, a part month counting as one
    (1 Mar to 1 Apr is 1, to 2 Apr is 2); counting stops once past `limit`, so the answer is at most
    `limit + 1` (enough to tell a period that is too long)."""
    months = 1
    while add_months(start, months) < end and months <= limit:
        months += 1
    return months


def parse_month(label: str) -> datetime:
    """"2026-12" -> 2026-12-01T00:00Z; ValueError for anything that is not YYYY-MM."""
    found = _MONTH.fullmatch(label or "")
    if found is None:
        raise ValueError(f"{label!r} is not a month; use YYYY-MM, e.g. 2026-11")
    year = int(found[1])
    if not FIRST_YEAR <= year <= LAST_YEAR:  # the month and the next one must both be datetimes
        raise ValueError(f"{label!r} is out of range; a month runs from {FIRST_YEAR:04d}-01 to {LAST_YEAR}-12")
    return datetime(year, int(found[2]), 1, tzinfo=UTC)
