"""The console's policy allows no inline style: its styles are one shared stylesheet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.helpers import log_in

TEMPLATES = Path(__file__).parents[2] / "api" / "console" / "templates"


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_carries_an_inline_style(template):
    text = (TEMPLATES / template).read_text()
    assert "<style" not in text and "style=" not in text


def test_pages_link_the_stylesheet_under_a_policy_without_inline_styles(console, session):
    login = console.get("/console/login")
    assert "style-src 'self';" in login.headers["content-security-policy"]
    assert "unsafe-inline" not in login.headers["content-security-policy"]
    log_in(console, session, roles=["admin"])
    for url in ("/console", "/console/staff", "/console/partners", "/console/invoicing/next-run"):
        page = console.get(url)
        assert page.status_code == 200, url
        assert "style-src 'self';" in page.headers["content-security-policy"], url
        assert '<link rel="stylesheet" href="/static/console.css">' in page.text, url
    sheet = console.get("/static/console.css")
    assert sheet.status_code == 200 and ".badge.cancelled" in sheet.text and "text/css" in sheet.headers["content-type"]
