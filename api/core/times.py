"""Times are UTC: the one rule for every time the API reads (bodies, query parameters, cursors)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime | None) -> datetime | None:
    """An offset is converted to UTC; a time without one (or a bare date) is taken to be UTC already."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:00-05:00 has no UTC equivalent
        raise ValueError("time is out of range once converted to UTC") from exc


# Use for every datetime field and query parameter: a naive time would otherwise reach a UTC column
# (api.core.db.UTCDateTime refuses it) or be compared with aware times.
UTCTime = Annotated[datetime, AfterValidator(as_utc)]
