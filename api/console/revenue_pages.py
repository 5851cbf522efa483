"""Revenue and usage you can look at: charts (server-rendered SVG) with the table beside each, and
every table as CSV. Figures come from the reports services (api/reports). Roles: finance or licensing."""

from __future__ import annotations

import csv
import io
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.console import charts, labels, views
from api.console.deps import ConsoleStaffMayRevenue, found
from api.core.db import utcnow
from api.core.months import add_months, next_month
from api.deps import SessionDep
from api.reports import breakdowns
from api.reports import service as reports

router = APIRouter()
TABLES = ("months", "partners", "articles", "uses", "billed", "unpaid")


def _range(start: str | None, end: str | None) -> tuple[date, date]:
    default_end = next_month(utcnow().date())  # the twelve calendar months up to this one's end
    default_start = add_months(default_end, -12)
    try:
        return (date.fromisoformat(start) if start else default_start), (date.fromisoformat(end) if end else default_end)
    except ValueError:
        raise views.ConsoleRefusal("Dates are written like 2026-01-01.", status=422) from None


def tables(session, start: date, end: date) -> tuple:
    """Every table of the page by name (a header and rows of display strings: money formatted, labels
    not codes), then the report figures the charts are drawn from."""
    revenue = found(reports.revenue, session, start=start, end=end)
    usage = found(reports.usage, session, start=start, end=end, limit=20)
    by_use = breakdowns.usage_by_use(session, start=start, end=end)
    billed = breakdowns.billed_vs_delivered(session, start=start, end=end)
    unpaid = {t.currency: t for t in revenue.outstanding}
    overdue = {t.currency: t for t in revenue.overdue}
    return {
        "months": (["Month", "Currency", "Paid", "Invoices"],
                   [[m.month, m.currency, views.money(m.amount, m.currency), str(m.invoices)] for m in revenue.paid_by_month]),
        "partners": (["Partner", "Deliveries", "Republications"],
                     [[p.partner_name, f"{p.deliveries:,}", f"{p.republications:,}"] for p in usage.by_partner]),
        "articles": (["Article", "Deliveries", "Republications"],
                     [[a.headline, f"{a.deliveries:,}", f"{a.republications:,}"] for a in usage.top_articles]),
        "uses": (["Use", "Deliveries", "Republications"],
                 [[labels.label(u.use), f"{u.deliveries:,}", f"{u.republications:,}"] for u in by_use]),
        "billed": (["Partner", "Billed", "Invoices", "Deliveries"],
                   [[b.partner_name, views.money(b.billed, b.currency) if b.currency else "nothing billed",
                     str(b.invoices), f"{b.deliveries:,}"] for b in billed]),
        "unpaid": (["Currency", "Outstanding", "Invoices", "Overdue", "Overdue invoices"],
                   [[c, views.money(unpaid[c].amount, c), str(unpaid[c].invoices),
                     views.money(overdue[c].amount, c) if c in overdue else views.money(0, c),
                     str(overdue[c].invoices) if c in overdue else "0"] for c in sorted(unpaid)]),
    }, revenue, usage, by_use, billed


def _charts(revenue, usage, by_use, billed) -> dict[str, str]:
    months = sorted({m.month for m in revenue.paid_by_month})
    currencies = sorted({m.currency for m in revenue.paid_by_month})
    paid = {(m.month, m.currency): m.amount for m in revenue.paid_by_month}
    exponent = {c: 10 ** views.exponent(c) for c in currencies}
    billed_currencies = sorted({b.currency for b in billed if b.currency})
    return {
        "months": charts.bars("Paid per month", months, {c: [paid.get((m, c), 0) / exponent[c] for m in months]
                                                          for c in currencies}),
        "partners": charts.bars("Deliveries per partner", [p.partner_name for p in usage.by_partner],
                                {"Deliveries": [p.deliveries for p in usage.by_partner],
                                 "Republications": [p.republications for p in usage.by_partner]}, horizontal=True),
        "articles": charts.bars("Top articles", [a.headline for a in usage.top_articles],
                                {"Deliveries": [a.deliveries for a in usage.top_articles]}, horizontal=True),
        "uses": charts.bars("Deliveries per use", [labels.label(u.use) for u in by_use],
                            {"Deliveries": [u.deliveries for u in by_use]}),
        "billed": charts.bars("Billed per partner", [b.partner_name for b in billed],
                              {c: [b.billed / 10 ** views.exponent(c) if b.currency == c else None for b in billed]
                               for c in billed_currencies}, horizontal=True),
    }


@router.get("/revenue", response_class=HTMLResponse)
def revenue_page(request: Request, staff: ConsoleStaffMayRevenue, session: SessionDep, start: str | None = None,
                 end: str | None = None) -> HTMLResponse:
    since, until = _range(start, end)
    shown, *figures = tables(session, since, until)
    drawn = _charts(*figures)
    return views.render(request, "revenue.html", staff=staff, tables=shown, charts=drawn,
                        start=since.isoformat(), end=until.isoformat(),
                        inline_styles=charts.style_sources(drawn.values()))


@router.get("/revenue/{table}.csv")
def revenue_csv(table: str, staff: ConsoleStaffMayRevenue, session: SessionDep, start: str | None = None,
                end: str | None = None) -> Response:
    if table not in TABLES:
        raise views.ConsoleRefusal(f"There is no table “{table}”; the tables are {', '.join(TABLES)}.", status=404)
    since, until = _range(start, end)
    header, rows = tables(session, since, until)[0][table]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="syndicate-{table}-{since}-{until}.csv"'})
