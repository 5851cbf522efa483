"""One real browser (Debian's chromium, driven by Playwright) against the real app under uvicorn:
log in, open the queue, approve a request, see the licence."""

from __future__ import annotations

from collections.abc import Iterator
import os
from pathlib import Path

import pytest
from sqlmodel import select

from api.app import create_app
from api.licensing.models import Licence
from tests.builders import STAFF_PASSWORD, make_staff
from tests.conftest import make_settings
from tests.console.helpers import submitted_request
from tests.live import free_port, serving

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# A developer machine without chromium skips this one test; CI (which installs it) must run it.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@pytest.fixture
def live_url(app, database_url: str) -> Iterator[str]:
    """The real app served by uvicorn on 127.0.0.1, on the test database (schema built by `app`)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(create_app(make_settings(database_url, public_base_url=url), run_worker=False), port):
        yield url


def test_staff_approves_a_request_in_a_real_browser(live_url, session) -> None:
    from playwright.sync_api import expect, sync_playwright

    request = submitted_request(session)
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{live_url}/console")
            page.fill("#email", staff.email)
            page.fill("#password", STAFF_PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("#queue-size")).to_have_text("1")
            page.screenshot(path="/tmp/console-dashboard.png", full_page=True)

            page.click("nav >> text=Requests")
            page.screenshot(path="/tmp/console-queue.png", full_page=True)
            page.click(f"text={request.id}")
            expect(page.locator("#request-state")).to_have_text("in_review")
            page.screenshot(path="/tmp/console-request.png", full_page=True)

            page.fill("#approve-conditions", "Credit the author")
            page.click("button:has-text('Approve')")
            expect(page.locator("#request-state")).to_have_text("approved")
            session.commit()
            licence = session.exec(select(Licence).where(Licence.request_id == request.id)).one()
            expect(page.locator("#licence-link")).to_have_text(licence.id)
            assert licence.conditions == ["Credit the author"]
        finally:
            browser.close()
