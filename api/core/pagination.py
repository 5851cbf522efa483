"""Keyset (cursor) pagination: page N costs what page 1 costs, whatever the table's size."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Generic, Sequence, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import SQLColumnExpression

from api.core.errors import BadCursor, Invalid
from api.core.times import as_utc

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` to get the next page; absent on the last page."
    )


def page_example(item: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entry giving a list endpoint's 200 a one-item example page."""
    return {200: {"content": {"application/json": {"example": {"items": [item], "next_cursor": None}}}}}


def encode_cursor(values: Sequence[Any]) -> str:
    raw = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode().rstrip("=")


def _cursor_value(value: Any, kind: type) -> Any:
    """One key value, checked strictly: a cursor is client input, and a value of the wrong shape
    must become a bad-cursor problem here rather than an error in the database driver."""
    if kind is datetime:
        if not isinstance(value, str):
            raise TypeError("a time must be an ISO 8601 string")
        return as_utc(datetime.fromisoformat(value))
    if kind is str:
        if not isinstance(value, str) or "\x00" in value:
            raise TypeError("not a text value")
        return value
    if kind is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("not an integer")
        return value
    return kind(value)


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            raise ValueError
        return [_cursor_value(v, kind) for v, kind in zip(raw, kinds)]
    except (ValueError, TypeError, OverflowError, json.JSONDecodeError) as exc:
        raise BadCursor("The cursor is malformed or from another listing; start again without it.") from exc


def keyset_page(
    session: Any,
    stmt: Select,
    *,
    columns: Sequence[SQLColumnExpression[Any]],
    kinds: Sequence[type],
    cursor: str | None,
    limit: int,
    descending: bool = False,
    key: Any = None,
) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `columns` from after `cursor`; return rows and the next cursor.

    `key(row)` returns the row's values for `columns` (defaults to attributes of the same names).
    """
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        after = decode_cursor(cursor, kinds)
        stmt = stmt.where(_after(columns, after, descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = list(session.exec(stmt.order_by(*order).limit(limit + 1)).all())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        values = key(last) if key else [getattr(last, _attribute(c)) for c in columns]
        next_cursor = encode_cursor(values)
    return rows, next_cursor


def _attribute(column: SQLColumnExpression[Any]) -> str:
    """The attribute a model column reads back from (a listing of computed columns passes `key`)."""
    name = getattr(column, "key", None)
    if not isinstance(name, str):
        raise TypeError(f"{column!r} is not a model column: pass `key` to keyset_page")
    return name


def _after(columns: Sequence[SQLColumnExpression[Any]], values: Sequence[Any], descending: bool) -> ColumnElement:
    # (a, b) > (x, y)  ==  a > x OR (a = x AND b > y); written out so SQLite and PostgreSQL agree.
    clauses = []
    for i, column in enumerate(columns):
        equal = [columns[j] == values[j] for j in range(i)]
        beyond = column < values[i] if descending else column > values[i]
        clauses.append(and_(*equal, beyond))
    # The redundant bound on the first column lets both planners seek the index instead of scanning it.
    first = columns[0] <= values[0] if descending else columns[0] >= values[0]
    return and_(first, or_(*clauses))


class SortOrder:
    """One way a listing can be sorted: its key columns (the last one a unique tiebreak, usually
    the id), their cursor kinds and the direction. Each order a listing offers has an index that
    reads it in this order, so a page never sorts and never scans (see each domain's query-plan tests)."""

    def __init__(self, label: str, columns: Sequence[ColumnElement], kinds: Sequence[type], *,
                 descending: bool = False) -> None:
        self.label, self.columns, self.kinds, self.descending = label, list(columns), list(kinds), descending


def sorted_page(session: Any, stmt: Select, orders: dict[str, SortOrder], sort: str, *, cursor: str | None,
                limit: int) -> tuple[list[Any], str | None]:
    """`keyset_page` in the listing's named order; the cursor carries that order's key and id, so a
    cursor from another order (another key shape) is refused as malformed."""
    try:
        order = orders[sort]
    except KeyError:
        raise Invalid(f"“{sort}” is not a way this list can be sorted; use one of {', '.join(orders)}.") from None
    return keyset_page(session, stmt, columns=order.columns, kinds=order.kinds, cursor=cursor, limit=limit,
                       descending=order.descending)


def contains_text(columns: Sequence[Any], text: str) -> ColumnElement:
    """A free-text filter: any of `columns` contains `text`, in any case (LIKE's own wildcards in
    `text` are matched literally). A filter, not a search: it is checked on the rows an order's
    index yields, so it narrows a page without choosing the plan."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(func.lower(column).like(f"%{escaped}%", escape="\\") for column in columns))
