"""The partner's usage by month, per licence and per article: a table and a server-rendered SVG
chart (pygal), from the reports service's one query."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import cache

from sqlmodel import Session

from api.core.db import utcnow
from api.core.months import last_n_months
from api.invoicing import partner_usage
from api.invoicing import service as invoicing
from api.licensing import service as licensing
from api.reports import service as reports

MONTHS = 12


@cache
def _chart_style():
    """pygal is imported when the first chart is drawn: it is not needed to start the server."""
    from pygal.style import Style

    return Style(background="white", plot_background="white", foreground="#1d2430", foreground_strong="#1d2430",
                 foreground_subtle="#4f5a6a", colors=("#1a56b0", "#146c34", "#a61f14", "#8a5a00"),
                 font_family="system-ui, sans-serif")


def rows(session: Session, partner_id: str, *, now: datetime | None = None) -> list[tuple]:
    """The usage of the last MONTHS calendar months, this one included."""
    licences, _next = licensing.list_licences(session, partner_id=partner_id, limit=100)
    since = last_n_months(now or utcnow(), MONTHS)
    return reports.partner_usage_by_month(session, licence_ids=[lic.id for lic in licences], since=since)


BILLED_SHOWN = 500  # deliveries of one invoice line shown in the portal; the API pages through any number


def billed_by_line(session: Session, partner_id: str, line_id: str) -> tuple:
    """An invoice line of the partner's and the deliveries it bills (newest first, at most BILLED_SHOWN)."""
    line = invoicing.get_line(session, line_id, partner_id=partner_id)
    rows, more = partner_usage.list_usage(session, partner_id=partner_id, invoice_line_id=line.id, limit=BILLED_SHOWN)
    return line, rows, more is not None


def month_label(value: str) -> str:
    """"2026-12" -> "Dec 2026"."""
    try:
        return datetime.strptime(value, "%Y-%m").strftime("%b %Y")
    except (TypeError, ValueError):
        return value


def chart_svg(usage: list[tuple]) -> bytes:
    """Deliveries and republications per month, as an SVG document (no script: shown as an image)."""
    deliveries: dict[str, int] = defaultdict(int)
    republications: dict[str, int] = defaultdict(int)
    for month, _licence, _article, _headline, count, first in usage:
        deliveries[month] += int(count)
        republications[month] += int(first)
    months = sorted(deliveries)
    import pygal

    chart = pygal.Bar(style=_chart_style(), js=[], disable_xml_declaration=False, width=800, height=320,
                      legend_at_bottom=True, truncate_legend=-1, show_y_guides=True, print_values=False,
                      title="Deliveries by month", no_data_text="No deliveries yet")
    chart.x_labels = [month_label(m) for m in months]
    top = max(deliveries.values(), default=0)
    if 0 < top <= 10:  # deliveries are counted whole: pygal's own scale would read 0.2, 0.4, ...
        chart.y_labels = list(range(top + 1))
    chart.add("Deliveries", [deliveries[m] for m in months])
    chart.add("Republications", [republications[m] for m in months])
    return chart.render()
