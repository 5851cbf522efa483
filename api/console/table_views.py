"""The console's list pages, one shape for all: a filter bar (GET form), sortable column headers and
a keyset pager, rendered by the macros in templates/_table.html.

A page describes its filters and takes the orders from its domain service (`*_ORDERS`, each with
its index); `Table` reads them from the query string, checks them, and writes the links that keep
every filter when the sort or the page changes. No business rule lives here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from api.console import views
from api.console.labels import label
from api.core.errors import SyndicateError
from api.core.pagination import SortOrder
from api.partners import service as partners

PAGE_SIZE = 25
T = TypeVar("T")


@dataclass(frozen=True)
class Filter:
    """One field of the filter bar. `kind`: "select" (`choices` as (value, label); "" means any),
    "text", or "date" (a day, read as UTC midnight)."""

    name: str
    label: str
    kind: str = "select"
    choices: list[tuple[str, str]] = field(default_factory=list)
    placeholder: str = ""


@dataclass
class Table:
    path: str
    filters: list[Filter]
    orders: dict[str, SortOrder]
    values: dict[str, str]
    sort: str
    cursor: str | None
    next_cursor: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)
    exports: bool = False  # the page has a CSV twin at `<path>.csv` taking the same filters

    @classmethod
    def read(cls, request: Request, path: str, filters: list[Filter], orders: dict[str, SortOrder], *,
             default_sort: str, defaults: dict[str, str] | None = None, exports: bool = False) -> Table:
        """The table as the query string asks for it: unknown choices and sorts fall back to the
        defaults (a stale bookmark still opens), a malformed date is refused with a sentence."""
        query, defaults = request.query_params, defaults or {}
        values: dict[str, str] = {}
        for spec in filters:
            raw = query.get(spec.name, defaults.get(spec.name, "")).strip()
            if spec.kind == "select" and raw not in {value for value, _ in spec.choices}:
                raw = defaults.get(spec.name, "")
            if spec.kind == "date" and raw:
                _day(raw, spec.label)
            values[spec.name] = raw[:200]
        sort = query.get("sort", default_sort)
        return cls(path=path, filters=filters, orders=orders, values=values, defaults=defaults, exports=exports,
                   sort=sort if sort in orders else default_sort, cursor=query.get("cursor") or None)

    def value(self, name: str) -> str | None:
        return self.values.get(name) or None

    def choice(self, name: str, kind: Callable[[str], T]) -> T | None:
        """A select filter as its enum member (`kind`), None for "any"."""
        raw = self.value(name)
        return kind(raw) if raw else None

    def start_of(self, name: str) -> datetime | None:
        """A date filter as the first instant of that day (UTC)."""
        raw = self.value(name)
        return datetime.combine(_day(raw, name), time(), timezone.utc) if raw else None

    def end_of(self, name: str) -> datetime | None:
        """A date filter as the first instant after that day: "until 3 March" includes 3 March."""
        start = self.start_of(name)
        return start + timedelta(days=1) if start else None

    def url(self, *, sort: str | None = None, cursor: str | None = None, path: str | None = None) -> str:
        # An empty choice is written out where the default is not empty ("any state" on the queue,
        # whose default is "in review"), so that the next page keeps it.
        params = {name: value for name, value in self.values.items() if value or name in self.defaults}
        if sort or self.sort:
            params["sort"] = sort or self.sort
        if cursor:
            params["cursor"] = cursor
        return f"{path or self.path}?{urlencode(params)}"

    def csv_url(self) -> str:
        """These rows as CSV: the same filters and order, every page."""
        return self.url(path=f"{self.path}.csv")

    def sort_url(self, key: str) -> str:
        return self.url(sort=key)

    def next_url(self) -> str | None:
        return self.url(cursor=self.next_cursor) if self.next_cursor else None

    def first_url(self) -> str | None:
        """Back to the first page, when this is not it (keyset pages go forward only)."""
        return self.url() if self.cursor else None

    def aria_sort(self, key: str) -> str | None:
        if key != self.sort:
            return None
        return "descending" if self.orders[key].descending else "ascending"


def _day(raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise views.ConsoleRefusal(f"“{raw[:40]}” is not a date for “{label}”: use the date picker or 2026-03-31.",
                                   status=422) from None


def choices(values, *, any_label: str = "Any") -> list[tuple[str, str]]:
    """Enum members (or codes) as select choices, by their labels, after an "any" choice."""
    return [("", any_label), *((str(v), label(v)) for v in values)]


def partner_filter(session, request: Request) -> Filter:
    """The partner filter (`partner_id`, as the API names it): partners by name, the first 200, and
    the one asked for even if it is not among them (a link from a partner's page)."""
    rows, _ = partners.list_partners(session, sort="name", limit=200)
    found = [(p.id, p.name) for p in rows]
    wanted = request.query_params.get("partner_id", "").strip()
    if wanted and wanted not in dict(found):
        try:
            found.insert(0, (wanted, partners.get_partner(session, wanted).name))
        except SyndicateError:
            pass  # an unknown partner: the filter falls back to any
    return Filter("partner_id", "Partner", choices=[("", "Any partner"), *found])


def partner_names(session, ids) -> dict[str, str]:
    """Partner id -> name, for the rows of a page or an export: one query, however many partners."""
    return partners.partner_names(session, ids)


def date_range(prefix: str, what: str) -> list[Filter]:
    """A from/until pair of date filters (`<prefix>_from`, `<prefix>_until`), both days included."""
    return [Filter(f"{prefix}_from", f"{what} from", kind="date"), Filter(f"{prefix}_until", f"{what} until", kind="date")]


EXPORT_LIMIT = 10_000


def every_row(page: Callable[[str | None], tuple[list, str | None]], *, limit: int = EXPORT_LIMIT) -> list:
    """The rows of every page (`page(cursor)` -> rows, next cursor), up to `limit`: a CSV export of
    the filtered table, walked by the same keyset as the pages (each step an index seek)."""
    rows: list = []
    cursor: str | None = None
    while True:
        batch, cursor = page(cursor)
        rows.extend(batch)
        if not cursor or len(rows) >= limit:
            return rows[:limit]


def partner_csv(session, name: str, header: list[str], page: Callable[[str | None], tuple[list, str | None]],
                row: Callable[[Any, str], list[object]]) -> Response:
    """The export of a table whose rows belong to partners: `every_row(page)`, each written as
    `row(item, its partner's name)`, as the CSV download `name`."""
    rows = every_row(page)
    names = partner_names(session, [item.partner_id for item in rows])
    return csv_response(name, header, [row(item, names[item.partner_id]) for item in rows])


def _cell(value: object) -> object:
    # A spreadsheet runs a cell starting with = + - @ as a formula; partner names come from outside.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_response(name: str, header: list[str], rows: list[list[object]]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="syndicate-{name}.csv"'})
