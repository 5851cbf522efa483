"""One real browser (Debian's chromium, driven by Playwright) against the real app under uvicorn:
log in, open the queue, approve a request, see the licence."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest
from sqlmodel import select

from api.app import create_app
from api.licensing.models import Licence
from tests.browser_checks import ARGS, CHROMIUM, assert_no_serious_axe_violation, own_browser  # noqa: F401 - re-exported
from tests.builders import STAFF_PASSWORD, make_staff
from tests.conftest import make_settings
from tests.console.helpers import submitted_request
from tests.live_server import free_port, served


# A developer machine without chromium skips this one test; CI (which installs it) must run it.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def live_url(app, database_url: str) -> Iterator[str]:
    """The real app served by uvicorn on 127.0.0.1, on the test database (schema built by `app`)."""
    port = free_port()
    with served(create_app(make_settings(database_url, public_base_url=f"http://127.0.0.1:{port}"),
                           run_worker=False), port) as url:
        yield url


def log_in(page, live_url: str, staff) -> None:
    page.goto(f"{live_url}/console")
    page.fill("#email", staff.email)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")


@contextlib.contextmanager
def staff_browser(chromium, live_url: str, staff) -> Iterator[tuple[Any, list[str]]]:
    """Chromium signed in to the console as `staff`, at desktop width: yields the page and the
    Content-Security-Policy refusals its console logs (a test asserts there are none)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    refusals: list[str] = []
    with own_browser(chromium) as browser:
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: refusals.append(msg.text) if "Content Security Policy" in msg.text else None)
            log_in(page, live_url, staff)
            yield page, refusals
        finally:
            browser.close()


def test_staff_approves_a_request_in_a_real_browser(chromium, live_url, session) -> None:
    from playwright.sync_api import expect

    request = submitted_request(session)
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    with own_browser(chromium) as browser:
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, live_url, staff)
            expect(page.locator("#queue-size")).to_have_text("1")
            page.screenshot(path="/tmp/console-dashboard.png", full_page=True)

            page.click("nav >> text=Requests")
            page.screenshot(path="/tmp/console-queue.png", full_page=True)
            page.click(f"text={request.id}")
            expect(page.locator("#request-state")).to_have_text("In review")
            page.screenshot(path="/tmp/console-request.png", full_page=True)

            page.fill("#approve-conditions", "Credit the author")
            page.click("button:has-text('Approve')")
            expect(page.locator("#request-state")).to_have_text("Approved")
            session.commit()
            licence = session.exec(select(Licence).where(Licence.request_id == request.id)).one()
            expect(page.locator("#licence-link")).to_have_text(licence.id)
            assert licence.conditions == ["Credit the author"]
        finally:
            browser.close()


SCREENSHOTS = Path(os.environ.get("SYNDICATE_SCREENSHOTS", "/tmp/syndicate-screenshots"))


def test_staff_amends_a_licence_and_grants_quota_that_delivery_honours_at_once(chromium, live_url, session) -> None:
    """In the console: grant quota to a licence whose partner was just told 429, and the partner's very
    next content request goes through; then amend its territories. Desktop and 375 px screenshots."""
    import httpx
    from playwright.sync_api import expect

    from api.licensing import grants
    from tests.builders import TEST_ACTOR, make_api_key, make_article, make_licence, make_partner

    partner = make_partner(session, name="Outlet Gazette")
    api_key = make_api_key(session, partner)
    article = make_article(session, headline="Putin and Syria")
    licence = make_licence(session, partner=partner, articles=[article], amount=24_000, monthly_quota=1,
                           territories=["GB", "FR"])
    grants.activate(session, licence, actor=TEST_ACTOR)
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    api = httpx.Client(timeout=60)  # a loaded CI machine hashes API keys slowly; this is no speed test
    token = api.post(f"{live_url}/v1/licences/{licence.id}/tokens", headers={"X-API-Key": api_key}).json()["token"]
    content = f"{live_url}/v1/content/articles/{article.id}"
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get(content, headers=bearer).status_code == 200
    assert api.get(content, headers=bearer).status_code == 429
    with own_browser(chromium) as browser:
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            log_in(page, live_url, staff)
            page.click("nav >> text=Licences")
            page.click(f"text={licence.id}")
            expect(page.locator("#licence-state")).to_have_text("Active")
            page.fill("#grant-extra", "500")
            page.fill("#grant-until", "2099-03-31")
            page.fill("#grant-reason", "Election coverage burst")
            page.click("button:has-text('Grant quota')")
            expect(page.locator(".flash.ok")).to_contain_text("Quota granted")
            assert api.get(content, headers=bearer).status_code == 200  # the very next request

            page.fill("#amend-territories", "GB")
            page.fill("#amend-reason", "France is licensed to another outlet from today")
            page.click("button:has-text('Amend the licence')")
            expect(page.locator("#licence-territories")).to_have_text("United Kingdom")
            assert api.get(content, params={"territory": "FR"}, headers=bearer).status_code == 403
            page.screenshot(path=str(SCREENSHOTS / "console-licence-amended.png"), full_page=True)

            page.set_viewport_size({"width": 375, "height": 812})
            page.reload()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the licence page is {width}px wide at 375px"
            page.screenshot(path=str(SCREENSHOTS / "console-licence-375.png"), full_page=True)
        finally:
            browser.close()
            api.close()


def test_a_stale_rate_card_tab_is_refused_and_a_rule_is_dry_run_in_a_real_browser(chromium, live_url, session) -> None:
    from playwright.sync_api import expect

    from api.licensing import ratecard
    from tests.console.helpers import submitted_request

    ratecard.ensure_default_rate_card(session)
    submitted_request(session)
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with own_browser(chromium) as browser:
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            log_in(page, live_url, staff)
            page.click("nav >> text=Rate card")
            stale = context.new_page()  # a second tab, opened on the same version
            stale.goto(f"{live_url}/console/rate-card")

            page.fill("#use-web", "1.5")
            page.click("button:has-text('Preview prices')")
            expect(page.locator("#preview")).to_contain_text("One article on a UK website")
            page.screenshot(path=str(SCREENSHOTS / "console-rate-card-preview.png"), full_page=True)
            page.fill("#note", "Web up 50%")
            page.click("button:has-text('Publish as version')")
            expect(page.locator(".flash.ok")).to_contain_text("published")

            stale.fill("#use-print", "2")
            stale.click("button:has-text('Publish as version')")
            expect(stale.locator(".flash.error")).to_contain_text("has been published since (Web up 50%)")
            stale.screenshot(path=str(SCREENSHOTS / "console-rate-card-conflict.png"), full_page=True)

            page.click("nav >> text=Rules")
            page.fill("#rule-name", "Small web requests")
            page.check("#use-web")
            page.fill("#max-GBP", "1000")
            page.click("button:has-text('Dry run')")
            expect(page.locator("#dry-run-result")).to_contain_text("would have approved 1 of the last 1")
            page.screenshot(path=str(SCREENSHOTS / "console-rules-dry-run.png"), full_page=True)
            page.set_viewport_size({"width": 375, "height": 812})
            for path in ("/console/rules", "/console/rate-card"):
                page.goto(f"{live_url}{path}")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 375, f"{path} is {width}px wide at 375px"
            page.screenshot(path=str(SCREENSHOTS / "console-rate-card-375.png"), full_page=True)
        finally:
            browser.close()


def test_finance_reads_the_revenue_chart_in_a_real_browser(chromium, live_url, session, settings) -> None:
    from datetime import timedelta

    from playwright.sync_api import expect

    from api.core.db import utcnow
    from tests.builders import make_partner
    from tests.reports.data import paid_invoice

    paid_invoice(session, settings, partner=make_partner(session, name="Outlet Gazette"), amount=150_00,
                 paid_at=utcnow() - timedelta(hours=1))
    staff = make_staff(session, roles=["finance"])
    session.commit()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with own_browser(chromium) as browser:
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
            log_in(page, live_url, staff)
            page.click("nav >> text=Revenue")
            chart = page.locator("#report-months svg")
            expect(chart).to_be_visible()
            assert chart.bounding_box()["height"] > 100
            expect(page.locator("#report-months table")).to_contain_text("150.00 GBP")
            page.screenshot(path=str(SCREENSHOTS / "console-revenue.png"), full_page=True)
            page.set_viewport_size({"width": 375, "height": 812})
            page.reload()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the revenue page is {width}px wide at 375px"
        finally:
            browser.close()
    assert errors == []


def test_admin_invoices_on_demand_cancels_a_licence_and_manages_staff_in_a_real_browser(chromium, live_url, session) -> None:
    """Invoice a partner now from the next-run preview, cancel a licence awaiting payment, open the
    partner and staff pages: no CSP refusal (no inline style left), axe-clean, 375 px wide at most."""
    from playwright.sync_api import expect

    from api.core.db import utcnow
    from tests.builders import make_article, make_licence, make_partner
    from tests.invoicing.conftest import add_usage

    usage = make_licence(session, partner=make_partner(session, name="Outlet Gazette"),
                         articles=[make_article(session)], amount=1_250, billing_mode="usage")
    add_usage(session, usage, make_article(session), at=utcnow())
    unpaid = make_licence(session, partner=make_partner(session, name="Unpaid Post"), articles=[make_article(session)],
                          amount=24_000)
    staff = make_staff(session, roles=["admin"])
    session.commit()
    with staff_browser(chromium, live_url, staff) as (page, refusals):
        page.click("nav >> text=Next run")
        expect(page.locator(f"#partner-{usage.partner_id}")).to_contain_text("12.50 GBP")
        assert_no_serious_axe_violation(page, "next run")
        page.screenshot(path=str(SCREENSHOTS / "console-next-run.png"), full_page=True)
        page.click("button:has-text('Invoice Outlet Gazette now')")
        expect(page.locator(".flash.ok")).to_contain_text("Invoice drafted")

        page.goto(f"{live_url}/console/licences/{unpaid.id}")
        page.fill("#cancel-reason", "The partner no longer needs it")
        page.click("button:has-text('Cancel the licence')")
        expect(page.locator("#licence-state")).to_have_text("Cancelled")
        assert_no_serious_axe_violation(page, "licence")

        for path, name in ((f"/console/partners/{unpaid.partner_id}", "partner"), ("/console/staff", "staff"),
                           ("/console/login", "login")):
            page.goto(f"{live_url}{path}")
            assert_no_serious_axe_violation(page, name)
            page.set_viewport_size({"width": 375, "height": 812})
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide at 375px"
            page.screenshot(path=str(SCREENSHOTS / f"console-{name}-375.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})
    assert refusals == []
