"""Revenue and usage page: charts as script-free SVG with their tables, formatted money, CSV of every table."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from api.core.db import utcnow
from tests.builders import make_article, make_licence, make_partner
from tests.console.helpers import log_in
from tests.reports.data import add_usage, invoice_for, paid_invoice


@pytest.fixture
def figures(session, settings):
    now = utcnow()
    gazette = make_partner(session, name="Outlet Gazette")
    paid_invoice(session, settings, partner=gazette, amount=150_00, paid_at=now - timedelta(hours=1))
    late = invoice_for(session, settings, partner=make_partner(session, name="Late Payer"), amount=99_50)
    late.due_at = now - timedelta(days=3)
    session.add(late)
    article = make_article(session, headline="Putin and Syria")
    licence = make_licence(session, partner=gazette, articles=[article], use="print")
    for minutes in (1, 2, 3):
        add_usage(session, licence, article, at=now - timedelta(minutes=minutes), billable=minutes == 1)
    session.commit()


@pytest.mark.parametrize("role, status", [("finance", 200), ("licensing", 403), ("admin", 200), ("editor", 403)])
def test_the_page_by_role(console, session, role, status):
    log_in(console, session, roles=[role])
    assert console.get("/console/revenue").status_code == status
    assert console.get("/console/revenue/months.csv").status_code == status


def test_charts_are_svg_without_scripts_beside_tables_in_the_desk_s_words(console, session, figures):
    log_in(console, session, roles=["finance"])
    page = console.get("/console/revenue")
    assert page.status_code == 200
    assert page.text.count("<svg") == 5 and "<script" not in page.text and "onload" not in page.text
    for words in ("150.00 GBP", "99.50 GBP", "Outlet Gazette", "Putin and Syria", "Print", "Late Payer"):
        assert words in page.text, words
    assert "15000" not in page.text


def test_every_table_exports_as_csv(console, session, figures):
    log_in(console, session, roles=["finance"])
    for table in ("months", "partners", "articles", "uses", "billed", "unpaid"):
        answer = console.get(f"/console/revenue/{table}.csv")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert len(rows) >= 2, table
    unpaid = list(csv.reader(io.StringIO(console.get("/console/revenue/unpaid.csv").text)))
    assert unpaid[1] == ["GBP", "99.50 GBP", "1", "99.50 GBP", "1"]
    uses = list(csv.reader(io.StringIO(console.get("/console/revenue/uses.csv").text)))
    assert uses[1] == ["Print", "3", "1"]
    assert console.get("/console/revenue/nope.csv").status_code == 404
    assert console.get("/console/revenue?start=yesterday").status_code == 422


def test_the_charts_own_styles_are_the_only_inline_styles_the_policy_allows(console, session, figures):
    import base64
    import hashlib
    import html
    import re

    log_in(console, session, roles=["finance"])
    page = console.get("/console/revenue")
    csp = page.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and ' style="' not in page.text
    styles = re.findall(r"<style[^>]*>(.*?)</style>", page.text, re.S)
    assert len(styles) == 5
    for css in styles:  # the browser hashes the element's text: inside an SVG, `&gt;` reads `>`
        text = html.unescape(css)
        assert "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'" in csp
