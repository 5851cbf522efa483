"""Report figures against data built through the services, and the indexes the queries use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.reports import service as reports
from tests.builders import make_article, make_licence, make_partner
from tests.reports.data import add_usage, invoice_for, paid_invoice
from tests.query_plans import statement_plan
from api.reports.errors import BadReportRange, ReportRangeTooLong


def at(y: int, m: int, d: int, h: int = 12) -> datetime:
    return datetime(y, m, d, h, tzinfo=UTC)


def test_revenue_groups_paid_invoices_by_month_and_currency(session, settings) -> None:
    gbp, eur = make_partner(session, currency="GBP"), make_partner(session, currency="EUR")
    paid_invoice(session, settings, partner=gbp, amount=10_000, paid_at=at(2026, 9, 30, 23))
    paid_invoice(session, settings, partner=gbp, amount=2_500, paid_at=at(2026, 10, 1, 0))
    paid_invoice(session, settings, partner=gbp, amount=500, paid_at=at(2026, 10, 31, 23))
    paid_invoice(session, settings, partner=eur, amount=7_000, paid_at=at(2026, 10, 15))
    paid_invoice(session, settings, partner=gbp, amount=99_999, paid_at=at(2026, 11, 1, 0))  # outside the range
    open_one = invoice_for(session, settings, partner=gbp, amount=4_000)
    session.commit()

    report = reports.revenue(session, start=date(2026, 9, 1), end=date(2026, 11, 1),
                             now=open_one.due_at - timedelta(days=1))
    assert [(m.month, m.currency, m.amount, m.invoices) for m in report.paid_by_month] == [
        ("2026-09", "GBP", 10_000, 1), ("2026-10", "EUR", 7_000, 1), ("2026-10", "GBP", 3_000, 2)]
    assert [(t.currency, t.amount, t.invoices) for t in report.paid] == [("EUR", 7_000, 1), ("GBP", 13_000, 3)]
    assert [(t.currency, t.amount, t.invoices) for t in report.outstanding] == [("GBP", 4_000, 1)]
    assert report.overdue == []

    later = reports.revenue(session, start=date(2026, 9, 1), end=date(2026, 11, 1),
                            now=open_one.due_at + timedelta(seconds=1))
    assert [(t.currency, t.amount) for t in later.overdue] == [("GBP", 4_000)]


def test_usage_by_partner_licence_and_article(session) -> None:
    first, second = make_partner(session, name="First Outlet"), make_partner(session, name="Second Outlet")
    a1, a2 = make_article(session, headline="Most read"), make_article(session, headline="Less read")
    lic1 = make_licence(session, partner=first, articles=[a1, a2])
    lic2 = make_licence(session, partner=second, articles=[a1])
    add_usage(session, lic1, a1, at=at(2026, 10, 1, 0), billable=True)
    add_usage(session, lic1, a1, at=at(2026, 10, 2))
    add_usage(session, lic1, a2, at=at(2026, 10, 3), billable=True)
    add_usage(session, lic2, a1, at=at(2026, 10, 31, 23), billable=True)
    add_usage(session, lic2, a1, at=at(2026, 11, 1, 0))  # the first instant not counted
    add_usage(session, lic1, a2, at=at(2026, 9, 30, 23))
    session.commit()

    report = reports.usage(session, start=date(2026, 10, 1), end=date(2026, 11, 1))
    assert (report.total.deliveries, report.total.republications) == (4, 3)
    assert [(p.partner_name, p.deliveries, p.republications) for p in report.by_partner] == [
        ("First Outlet", 3, 2), ("Second Outlet", 1, 1)]
    assert [(lic.licence_id, lic.deliveries) for lic in report.by_licence] == [(lic1.id, 3), (lic2.id, 1)]
    assert [(a.headline, a.deliveries, a.republications) for a in report.top_articles] == [
        ("Most read", 3, 2), ("Less read", 1, 1)]
    assert [a.headline for a in reports.usage(session, start=date(2026, 10, 1), end=date(2026, 11, 1),
                                              limit=1).top_articles] == ["Most read"]


def test_empty_range_reports_zeroes(session) -> None:
    report = reports.usage(session, start=date(2020, 1, 1), end=date(2020, 2, 1))
    assert (report.total.deliveries, report.total.republications, report.by_partner) == (0, 0, [])


@pytest.mark.parametrize(("start", "end", "error"), [
    (date(2026, 5, 1), date(2026, 5, 1), BadReportRange),
    (date(2026, 5, 1), date(2026, 4, 1), BadReportRange),
    (date(2020, 1, 1), date(2024, 1, 1), ReportRangeTooLong),
])
def test_bad_ranges_are_refused(session, start, end, error) -> None:
    with pytest.raises(error):
        reports.usage(session, start=start, end=end)


def test_dashboard_counts_this_month(session, settings) -> None:
    partner = make_partner(session)
    article = make_article(session)
    licence = make_licence(session, partner=partner, articles=[article], amount=3_000)  # awaiting payment
    now = datetime.now(UTC)
    paid_invoice(session, settings, partner=partner, amount=1_250, paid_at=now)
    add_usage(session, licence, article, at=now, billable=True)
    session.commit()
    figures = reports.dashboard(session)
    assert figures.awaiting_payment == 1  # the paid invoice's licence is active now
    assert [(t.currency, t.amount) for t in figures.revenue_this_month] == [("GBP", 1_250)]
    assert (figures.usage_this_month.deliveries, figures.usage_this_month.republications) == (1, 1)


def test_report_queries_use_their_time_indexes(session) -> None:
    since, until = at(2026, 10, 1, 0), at(2026, 11, 1, 0)
    # On near-empty tables PostgreSQL may pick any (status, ...) index; each avoids a table scan, and
    # SQLite (whose choice does not depend on statistics) takes (status, paid_at).
    revenue_plan = statement_plan(session, reports.paid_by_month_statement(session, since, until))
    expected = ("ix_invoice_status_paid",) if session.get_bind().dialect.name == "sqlite" else (
        "ix_invoice_status_paid", "ix_invoice_status_due", "ix_invoice_status_id", "ix_invoice_status_total")
    assert any(name in revenue_plan for name in expected), revenue_plan
    # Usage reads the per-article and per-licence rollups through their primary keys, which start
    # with the day, never the big usage_daily.
    usage_plan = statement_plan(session, reports.usage_by_article_statement(since, until, 10))
    assert any(name in usage_plan for name in ("sqlite_autoindex_usage_article_daily_1", "pk_usage_article_daily")), usage_plan
    partners_plan = statement_plan(session, reports.top_partners_statement(since, until, 10))
    assert any(name in partners_plan for name in ("sqlite_autoindex_usage_licence_daily_1", "pk_usage_licence_daily")), \
        partners_plan
    assert "usage_daily" not in partners_plan.replace("usage_licence_daily", ""), partners_plan
    session.rollback()
