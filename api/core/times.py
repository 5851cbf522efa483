"""Times are UTC: the one rule for every time the API reads (bodies, query parameters, cursors)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

# ISO 8601 with at least a full date; pydantic would otherwise also read numbers (and numeric
# strings) as Unix timestamps, so `updated_since=0.5` meant 1970.
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:$|[T ])")


def iso_8601(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T09:00:00Z")
    return value


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
UTCTime = Annotated[datetime, BeforeValidator(iso_8601), AfterValidator(as_utc)]
# A time that must carry its offset (the partner states when terms start and end).
AwareTime = Annotated[AwareDatetime, BeforeValidator(iso_8601)]
# A calendar day, as ISO 8601 (`2026-12-01`) only.
IsoDate = Annotated[date, BeforeValidator(iso_8601)]
