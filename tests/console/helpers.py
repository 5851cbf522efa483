"""Helpers private to the console tests: a submitted request, and logging in through the pages."""

from __future__ import annotations

import html as markup
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.core.db import utcnow
from api.licensing import ratecard, requests
from api.licensing.models import LicenceRequest
from api.licensing.quotes import TermsInput
from tests.builders import STAFF_PASSWORD, make_article, make_partner, make_staff


@contextmanager
def another_browser(app: FastAPI) -> Iterator[TestClient]:
    """A second browser (its own cookies) on an app a running test client already started. It does
    not run the app's lifespan again: a nested start and stop shares the first client's delivery
    runtime, and the inner stop then waits out a timeout (10 s) for a usage writer on another loop."""
    browser = TestClient(app, base_url="https://testserver")
    try:
        yield browser
    finally:
        browser.close()


def submitted_request(session: Session, *, currency: str = "GBP") -> LicenceRequest:
    """A one-article request waiting in the queue (in_review)."""
    ratecard.ensure_default_rate_card(session)
    partner, article = make_partner(session, currency=currency), make_article(session, headline="Putin and Syria")
    now = utcnow()
    terms = TermsInput(scope="article", use="web", territories=["GB"], audience_size=10_000, article_ids=[article.id],
                       section=None, language="en", starts_at=now + timedelta(days=1),
                       ends_at=now + timedelta(days=31), billing_mode=None)
    request = requests.submit(session, partner=partner, terms=terms)
    session.commit()
    return request


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def log_in(client, session: Session, *, roles: list[str]) -> str:
    """Log in through the login page; returns the session's CSRF token (read from the dashboard)."""
    user = make_staff(session, roles=roles)
    session.commit()
    login_page = client.get("/console/login")
    response = client.post("/console/login", data={"email": user.email, "password": STAFF_PASSWORD,
                                                   "csrf_token": csrf_in(login_page.text)}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_in(client.get("/console").text)


def next_page_url(html: str) -> str | None:
    """The list page's "Next page" link (the pager of templates/_table.html), unescaped."""
    match = re.search(r'<a class="button" href="([^"]+)">Next page', html)
    return markup.unescape(match.group(1)) if match else None
