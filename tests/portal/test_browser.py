"""The front door end to end in a real browser (Debian's chromium through Playwright) against the
real app under uvicorn, with a real SMTP server (aiosmtpd): a reader opens the republish page of
the sample article, sees the quote change, asks for a licence, follows the e-mailed link into the
portal; staff approve in the console; finance marks the ledger invoice paid; the partner mints a
token in the portal and fetches the article with it. Every page is screenshotted at desktop and
phone width (the paths are printed) and checked with axe-core."""

from __future__ import annotations

import email
import os
import re
import tempfile
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

import api.jobs  # noqa: F401 - registers the outbox handlers (e-mail, the ledger's invoices)
from api.app import create_app
from api.catalogue import service as catalogue
from api.catalogue.importers import parse_document
from api.outbox.dispatch import drain
from tests.builders import STAFF_PASSWORD, TEST_ACTOR, make_staff
from tests.conftest import SAMPLES, make_settings
from tests.console.test_browser import ARGS, CHROMIUM, assert_no_serious_axe_violation
from tests.live_server import free_port, served as serving

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
ARTIFACTS = Path(os.environ.get("SYNDICATE_ARTIFACTS", Path(tempfile.gettempdir()) / "syndicate-artifacts"))
WIDTHS = {"desktop": 1280, "phone": 375}


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Inbox:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


@pytest.fixture
def live(app, database_url: str, smtp: Inbox):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(database_url, public_base_url=url, email_sender="smtp", smtp_port=smtp.port,
                             portal_payment_instructions="Pay by bank transfer to GB00 TEST 0000 0000.")
    application = create_app(settings, run_worker=False)
    with serving(application, port):
        yield url, application.state.engine


def _check(page, name: str) -> None:
    """Screenshots at both widths, no horizontal scroll on a phone, and no serious axe violation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        path = ARTIFACTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"
    page.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})
    assert_no_serious_axe_violation(page, name)


def _quote_total(page) -> str:
    return page.locator("#quote tr.total td.num").inner_text()


def test_a_reader_becomes_a_licensed_partner(live, session, smtp) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, engine = live
    [data] = parse_document(SAMPLES.joinpath("mee-article-putin-syria.txt").read_text(), format="text",
                            canonical_url="https://www.middleeasteye.net/news/putin-makes-surprise-visit-syria")
    article, _created, _changed = catalogue.upsert_article(session, data, actor=TEST_ACTOR)
    staff = make_staff(session, roles=["licensing", "finance"])
    session.commit()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            reader = browser.new_page(viewport={"width": 1280, "height": 900})
            reader.goto(f"{url}/republish/{article.slug}")
            expect(reader.locator("h1")).to_contain_text("Putin")
            expect(reader.locator("body")).to_contain_text("Reuters")  # the agency picture, named, left out
            before = _quote_total(reader)
            reader.fill("#audience_size", "900000")
            expect(reader.locator("#quote tr.total td.num")).not_to_have_text(before)
            _check(reader, "republish")
            reader.fill("#outlet_name", "The Daily Outlet")
            reader.fill("#contact_name", "Ana Editor")
            reader.fill("#email", "ana@outlet.example")
            reader.click("button:has-text('Ask for this licence')")
            expect(reader.locator("h1")).to_contain_text("we have your request")
            _check(reader, "republish-sent")

            drain(engine)  # the outbox hands the confirmation to the SMTP server
            [mail] = [m for m in smtp.messages if m["To"] == "ana@outlet.example"]
            link = re.search(r"(http://127\.0\.0\.1:\d+/portal/sign-in/\S+)", mail.get_content())[1]
            reader.goto(link)
            _check(reader, "portal-sign-in")
            reader.click("button:has-text('Sign in')")
            expect(reader.locator("tbody")).to_contain_text("Being reviewed")
            _check(reader, "portal-requests")

            desk = browser.new_context().new_page()
            desk.goto(f"{url}/console/login")
            desk.fill("#email", staff.email)
            desk.fill("#password", STAFF_PASSWORD)
            desk.click("button[type=submit]")
            request_id = re.search(r"lrq_\w+", mail.get_content())[0]
            desk.goto(f"{url}/console/requests/{request_id}")
            desk.click("button:has-text('Approve')")
            expect(desk.locator("#request-state")).to_have_text("approved")
            drain(engine)  # the ledger issues the invoice
            reader.goto(f"{url}/portal/licences")  # unpaid: it may still be cancelled, after a second look
            reader.click("summary:has-text('Cancel this licence')")
            expect(reader.locator("button:has-text('Yes, cancel this licence')")).to_be_visible()
            _check(reader, "portal-licence-cancel")
            desk.goto(f"{url}/console/invoices")
            desk.fill("input[name=reference]", "BANK-REF-1")
            desk.click("button:has-text('Mark paid')")
            expect(desk.locator("body")).to_contain_text("Payment recorded")

            reader.goto(f"{url}/portal/invoices")
            expect(reader.locator("main")).to_contain_text("Paid")
            _check(reader, "portal-invoices")
            reader.goto(f"{url}/portal/licences")
            reader.click("button:has-text('Create a token')")
            token = reader.locator("#new-token").input_value()
            _check(reader, "portal-licences")
            httpx.get(f"{url}/v1/content/articles/{article.id}", headers={"Authorization": f"Bearer {token}"})
            reader.goto(f"{url}/portal/usage")
            expect(reader.locator("tbody")).to_contain_text("Putin")
            _check(reader, "portal-usage")
            reader.goto(f"{url}/portal/webhooks")
            reader.fill("#url", "https://hooks.outlet.example/syndicate")
            reader.click("button:has-text('Add the address')")
            reader.click("button:has-text('Send a test event')")
            expect(reader.locator("main")).to_contain_text("Test event")
            reader.click("button:has-text('Change the signing secret')")
            expect(reader.locator("main")).to_contain_text("two signatures")
            _check(reader, "portal-webhooks")
            reader.goto(f"{url}/portal/keys")
            _check(reader, "portal-keys")
        finally:
            browser.close()

    fetched = httpx.get(f"{url}/v1/content/articles/{article.id}", headers={"Authorization": f"Bearer {token}"})
    assert fetched.status_code == 200, fetched.text
    assert "Putin" in fetched.json()["headline"]
