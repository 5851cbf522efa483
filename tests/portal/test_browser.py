"""The front door end to end in a real browser (Debian's chromium through Playwright) against the
real app under uvicorn, with a real SMTP server (aiosmtpd): a reader opens the republish page of
the sample article, sees the quote change, asks for a licence, follows the e-mailed link into the
portal; staff approve in the console; the partner pays — on the ledger, finance marks the invoice
paid; on Stripe, the portal links to Checkout (the Stripe-shaped test server) and a signed
`checkout.session.completed` reaches the app's webhook — then mints a token in the portal and
fetches the article with it. Every page (and each state worth seeing: a counter-offer, a token shown
once, the withdrawn article's 410) is screenshotted at desktop and phone width into
$SYNDICATE_ARTIFACTS (the paths are printed) and checked with axe-core."""

from __future__ import annotations

import email
import os
import re
import tempfile
from contextlib import ExitStack
from email.policy import default as default_policy
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

import api.jobs  # noqa: F401 - registers the outbox handlers (e-mail, invoices, charging)
from api.app import create_app
from api.catalogue import service as catalogue
from api.catalogue.importers import parse_document
from api.core.money import format_money
from api.invoicing.models import Invoice
from api.licensing import decisions
from api.licensing import requests as licence_requests
from api.licensing.schemas import LicenceRequestCreate
from api.outbox.dispatch import drain
from api.partners.models import Partner
from tests.billing.conftest import stripe_double  # noqa: F401 - the Stripe-shaped test server
from tests.billing.events import WEBHOOK_SECRET, signed
from tests.browser_checks import CHROMIUM, assert_no_serious_axe_violation, own_browser
from tests.builders import STAFF_PASSWORD, TEST_ACTOR, make_article, make_staff
from tests.conftest import SAMPLES, make_settings
from tests.invoicing.test_checkout import _pay_by_card, _session_event
from tests.licensing.helpers import request_body
from tests.live_server import free_port
from tests.live_server import served as serving

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
ARTIFACTS = Path(os.environ.get("SYNDICATE_ARTIFACTS", Path(tempfile.gettempdir()) / "syndicate-artifacts"))
WIDTHS = {"desktop": 1280, "phone": 375}
READER = {"outlet": "The Daily Outlet", "name": "Ana Editor", "email": "ana@outlet.example"}


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


def _serve(database_url: str, smtp: Inbox, **billing):
    """The app under uvicorn, its worker-side jobs (drained by the test) billing the same way."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(database_url, public_base_url=url, email_sender="smtp", smtp_port=smtp.port,
                             portal_payment_instructions="Pay by bank transfer to GB00 TEST 0000 0000.", **billing)
    application = create_app(settings, run_worker=False)
    stack = ExitStack()
    stack.enter_context(serving(application, port))
    return stack, url, application.state.engine


@pytest.fixture
def live(app, database_url: str, smtp: Inbox):
    stack, url, engine = _serve(database_url, smtp)
    with stack:
        yield url, engine


@pytest.fixture
def live_stripe(app, database_url: str, smtp: Inbox, stripe_double):  # noqa: F811
    stack, url, engine = _serve(database_url, smtp, billing_backend="stripe", stripe_api_key="sk_test_syndicate",
                                stripe_api_base=stripe_double.url, stripe_webhook_secret=WEBHOOK_SECRET,
                                one_off_payment="checkout")
    with stack:
        yield url, engine


def check(page, name: str) -> None:
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


def _sample_article(session):
    [data] = parse_document(SAMPLES.joinpath("mee-article-putin-syria.txt").read_text(), format="text",
                            canonical_url="https://www.middleeasteye.net/news/putin-makes-surprise-visit-syria")
    # The saved text carries no byline or section; the published article's are these.
    data = data.model_copy(update={"byline": "MEE and agencies", "section": "news"})
    article, _created, _changed = catalogue.upsert_article(session, data, actor=TEST_ACTOR)
    return article


def _quote_stays_in_view(reader) -> None:
    """While the reader changes an option the quote stays in view: beside the form on a desktop, and
    pinned to the bottom of the screen on a 375 px phone (where it comes after the whole form)."""
    expect = _expect()
    for label, width, audience in (("desktop", WIDTHS["desktop"], "2000"), ("phone", WIDTHS["phone"], "250000")):
        reader.set_viewport_size({"width": width, "height": 740})
        reader.locator("#audience_size").scroll_into_view_if_needed()
        before = _quote_total(reader)
        reader.fill("#audience_size", audience)
        expect(reader.locator("#quote tr.total td.num")).not_to_have_text(before)
        box, field = reader.locator("#quote tr.total").bounding_box(), reader.locator("#audience_size").bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= 740, f"{label}: the quote total is off screen at {box}"
        overlaps = box["x"] < field["x"] + field["width"] and field["x"] < box["x"] + box["width"] and \
            box["y"] < field["y"] + field["height"] and field["y"] < box["y"] + box["height"]
        assert not overlaps, f"{label}: the quote covers the field being changed"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        reader.screenshot(path=str(ARTIFACTS / f"republish-options-{label}.png"))
    reader.set_viewport_size({"width": WIDTHS["desktop"], "height": 900})


def _expect():
    from playwright.sync_api import expect

    return expect


def _reader_asks_for_a_licence(reader, url: str, article) -> None:
    expect = _expect()
    reader.goto(f"{url}/republish/{article.slug}")
    expect(reader.locator("h1")).to_contain_text("Putin")
    expect(reader.locator(".byline")).to_have_text("By MEE and agencies")
    expect(reader.locator("#article-meta")).to_contain_text("News")
    expect(reader.locator("body")).to_contain_text("Reuters")  # the agency picture, named, left out
    before = _quote_total(reader)
    reader.fill("#audience_size", "900000")
    expect(reader.locator("#quote tr.total td.num")).not_to_have_text(before)
    _quote_stays_in_view(reader)
    check(reader, "republish")
    reader.fill("#outlet_name", READER["outlet"])
    reader.fill("#contact_name", READER["name"])
    reader.fill("#email", READER["email"])
    reader.click("button:has-text('Ask for this licence')")
    expect(reader.locator("h1")).to_contain_text("we have your request")
    check(reader, "republish-sent")


def _reader_signs_in_from_the_email(reader, smtp: Inbox, engine) -> str:
    """Follows the e-mailed one-time link; answers the request id the e-mail names."""
    expect = _expect()
    drain(engine)  # the outbox hands the confirmation to the SMTP server
    [mail] = [m for m in smtp.messages if m["To"] == READER["email"]]
    link = re.search(r"(http://127\.0\.0\.1:\d+/portal/sign-in/\S+)", mail.get_content())[1]
    reader.goto(link)
    check(reader, "portal-sign-in-link")
    reader.click("button:has-text('Sign in')")
    expect(reader.locator("tbody")).to_contain_text("Being reviewed")
    check(reader, "portal-requests")
    return re.search(r"lrq_\w+", mail.get_content())[0]


def _desk_approves(browser, url: str, staff, request_id: str, engine):
    expect = _expect()
    desk = browser.new_context().new_page()
    desk.goto(f"{url}/console/login")
    desk.fill("#email", staff.email)
    desk.fill("#password", STAFF_PASSWORD)
    desk.click("button[type=submit]")
    desk.goto(f"{url}/console/requests/{request_id}")
    desk.click("button:has-text('Approve')")
    expect(desk.locator("#request-state")).to_have_text("Approved")
    drain(engine)  # the invoice is issued (the ledger's, or Stripe Checkout's session)
    return desk


def _reader_mints_a_token(reader, url: str) -> str:
    reader.goto(f"{url}/portal/licences")
    _expect()(reader.locator(".badge").first).to_have_text("Active")
    reader.click("button:has-text('Create a token')")
    token = reader.locator("#new-token").input_value()
    check(reader, "portal-licences-token")
    return token


def _fetch(url: str, article, token: str) -> httpx.Response:
    return httpx.get(f"{url}/v1/content/articles/{article.id}", headers={"Authorization": f"Bearer {token}"})


def _journey(browser, url: str, engine, session, smtp: Inbox, pay) -> tuple:
    """The whole front door; `pay(reader, desk)` is the payment leg. Answers (reader, article, token)."""
    article = _sample_article(session)
    staff = make_staff(session, roles=["licensing", "finance"])
    session.commit()
    reader = browser.new_page(viewport={"width": 1280, "height": 900})
    _reader_asks_for_a_licence(reader, url, article)
    request_id = _reader_signs_in_from_the_email(reader, smtp, engine)
    desk = _desk_approves(browser, url, staff, request_id, engine)
    pay(reader, desk)
    token = _reader_mints_a_token(reader, url)
    fetched = _fetch(url, article, token)
    assert fetched.status_code == 200, fetched.text
    assert "Putin" in fetched.json()["headline"]
    return reader, article, token


def test_a_reader_becomes_a_licensed_partner(chromium, live, session, smtp) -> None:
    """The ledger leg, then a tour of every other portal page and state."""
    expect = _expect()
    url, engine = live

    def finance_marks_paid(reader, desk) -> None:
        reader.goto(f"{url}/portal/licences")  # unpaid: it may still be cancelled, after a second look
        reader.click("summary:has-text('Cancel this licence')")
        expect(reader.locator("button:has-text('Yes, cancel this licence')")).to_be_visible()
        check(reader, "portal-licence-cancel")
        reader.goto(f"{url}/portal/invoices")
        expect(reader.locator("main")).to_contain_text("GB00 TEST")  # the ledger's payment instructions
        check(reader, "portal-invoices-to-pay")
        desk.goto(f"{url}/console/invoices")
        desk.fill("input[name=reference]", "BANK-REF-1")
        desk.click("button:has-text('Mark paid')")
        expect(desk.locator("body")).to_contain_text("Payment recorded")
        reader.goto(f"{url}/portal/invoices")
        expect(reader.locator("main")).to_contain_text("Paid")
        check(reader, "portal-invoices")

    with own_browser(chromium) as browser:
        try:
            reader, article, _token = _journey(browser, url, engine, session, smtp, finance_marks_paid)
            _tour_the_rest_of_the_portal(reader, url, session, article)
        finally:
            browser.close()


def test_a_reader_pays_through_stripe_checkout(chromium, live_stripe, session, smtp, stripe_double) -> None:  # noqa: F811
    """The Stripe leg: the portal links to Checkout, Stripe's signed event activates the licence."""
    expect = _expect()
    url, engine = live_stripe

    def pays_by_card(reader, desk) -> None:
        session.expire_all()
        [invoice] = session.exec(select(Invoice)).all()
        assert invoice.checkout_session_id and invoice.hosted_url
        reader.goto(f"{url}/portal/invoices")
        link = reader.locator("a:has-text('Pay this invoice')")
        expect(link).to_have_attribute("href", invoice.hosted_url)  # Stripe Checkout's page
        expect(reader.locator("main h2")).to_contain_text(
            f"Invoice of {invoice.created_at:%d %b %Y} · {format_money(invoice.total, invoice.currency)}")
        check(reader, "portal-invoices-checkout")
        _pay_by_card(stripe_double, invoice.checkout_session_id)  # the partner pays on Checkout's page
        payload, headers = signed(_session_event("checkout.session.completed", invoice.checkout_session_id))
        session.commit()
        answer = httpx.post(f"{url}/v1/invoicing/stripe/webhook", content=payload, headers=headers)
        assert answer.status_code == 200, answer.text
        drain(engine)
        reader.goto(f"{url}/portal/invoices")
        expect(reader.locator("main")).to_contain_text("Paid")
        expect(reader.locator("a:has-text('Pay this invoice')")).to_have_count(0)

    with own_browser(chromium) as browser:
        try:
            _journey(browser, url, engine, session, smtp, pays_by_card)
        finally:
            browser.close()
    assert len(stripe_double.calls("POST", "/v1/checkout/sessions")) == 1  # one session, however often retried


def _tour_the_rest_of_the_portal(reader, url: str, session, article) -> None:
    """The pages and states the journey does not pass through, each screenshotted and axe-checked."""
    expect = _expect()
    _fetch(url, article, reader.locator("#new-token").input_value())
    reader.goto(f"{url}/portal/licences")
    check(reader, "portal-licences")
    reader.goto(f"{url}/portal/usage")
    expect(reader.locator("tbody")).to_contain_text("Putin")
    check(reader, "portal-usage")

    partner = session.exec(select(Partner).where(Partner.name == READER["outlet"])).one()
    other = make_article(session, headline="Gaza's hospitals under strain")
    body = LicenceRequestCreate.model_validate(request_body(article_ids=[other.id]))
    countered = licence_requests.submit(session, partner=partner, terms=body.terms())
    decisions.counter(session, countered.id, actor=TEST_ACTOR, amount=12_345, conditions=["Link to the original."],
                      message="A lower price if you link to us.")
    withdrawn = make_article(session, headline="A withdrawn story")
    catalogue.withdraw_article(session, withdrawn.id, reason="Legal", actor=TEST_ACTOR)
    session.commit()
    reader.goto(f"{url}/portal")
    expect(reader.locator("tbody")).to_contain_text("Counter-offer waiting for you")
    expect(reader.locator("tbody")).to_contain_text("123.45")
    check(reader, "portal-requests-counter-offer")

    reader.goto(f"{url}/portal/webhooks")
    check(reader, "portal-webhooks-empty")
    reader.fill("#url", "https://hooks.outlet.example/syndicate")
    reader.click("button:has-text('Add the address')")
    expect(reader.locator("#new-secret")).to_be_visible()
    check(reader, "portal-webhooks-secret")
    reader.click("button:has-text('Send a test event')")
    expect(reader.locator("main")).to_contain_text("Test event")
    reader.click("button:has-text('Change the signing secret')")
    expect(reader.locator("main")).to_contain_text("two signatures")
    check(reader, "portal-webhooks")
    reader.goto(f"{url}/portal/keys")
    check(reader, "portal-keys-empty")
    reader.fill("#name", "CMS plug-in")
    reader.click("button:has-text('Create a key')")
    expect(reader.locator("#new-key")).to_be_visible()
    check(reader, "portal-keys")
    reader.locator("form[action='/portal/keys'] input[name=csrf_token]").evaluate("e => { e.value = 'stale'; }")
    reader.click("button:has-text('Create a key')")  # a form from an old session: refused, in words
    expect(reader.locator("main")).to_contain_text("Reload the page and try again")
    check(reader, "portal-refused")
    reader.goto(f"{url}/portal/keys")

    reader.click("button:has-text('Sign out')")
    reader.goto(f"{url}/republish/{withdrawn.slug}")
    expect(reader.locator("main")).to_contain_text("withdrawn")
    check(reader, "republish-withdrawn")
    reader.goto(f"{url}/portal/sign-in")
    check(reader, "portal-sign-in")
    reader.fill("#email", READER["email"])
    reader.click("button:has-text('E-mail me a link')")
    expect(reader.locator("main")).to_contain_text("a sign-in link is on its way")
    check(reader, "portal-sign-in-sent")
    reader.goto(f"{url}/portal/sign-in/a-link-used-or-made-up")
    reader.click("button:has-text('Sign in')")
    expect(reader.locator("[role=alert]")).to_be_visible()
    check(reader, "portal-sign-in-refused")
