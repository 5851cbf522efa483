"""The sightings and still-live pages in a real browser (console and portal) with data in them,
long page URLs included: axe-core finds no serious violation, nothing scrolls sideways at 375 px,
the CSP refuses nothing; a case is closed through the console's form."""

from __future__ import annotations

from api.partners.models import Partner
from tests.browser_checks import assert_no_serious_axe_violation, own_browser
from tests.builders import make_api_key, make_staff
from tests.console.test_browser import (  # noqa: F401 - live_url is a fixture
    SCREENSHOTS, live_url, pytestmark, staff_browser,
)
from tests.tracking.data import copies_with_a_case


def _check(page, url: str, name: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    assert_no_serious_axe_violation(page, name)
    page.set_viewport_size({"width": 375, "height": 812})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide at 375px"
    page.screenshot(path=str(SCREENSHOTS / f"tracking-{name}-375.png"), full_page=True)


def test_console_sightings_and_still_live_pages_in_a_browser(chromium, live_url, session) -> None:  # noqa: F811
    case = copies_with_a_case(session)
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    with staff_browser(chromium, live_url, staff) as (page, refusals):
        _check(page, f"{live_url}/console/sightings", "console-sightings")
        _check(page, f"{live_url}/console/still-live", "console-still-live")
        page.fill(f"#{case.id} input[name=note]", "Removed, confirmed by phone")
        page.click(f"#{case.id} button[type=submit]")
        page.wait_for_url("**/console/still-live?done=closed")
        assert "Case closed" in page.content()
        _check(page, f"{live_url}/console/still-live?status=closed", "console-still-live-closed")
    assert refusals == []


def test_portal_where_shown_page_in_a_browser(chromium, live_url, session) -> None:  # noqa: F811
    case = copies_with_a_case(session)
    key = make_api_key(session, session.get(Partner, case.partner_id))
    session.commit()
    refusals: list[str] = []
    with own_browser(chromium) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: refusals.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.goto(f"{live_url}/portal/sign-in")
        page.fill("#api_key", key)
        with page.expect_navigation():
            page.press("#api_key", "Enter")
        _check(page, f"{live_url}/portal/sightings", "portal-sightings")
        # At 375 px a long page URL stays on one line (cut with an ellipsis, whole in its link):
        # broken anywhere, it had made each row over a thousand pixels tall, a column of letters.
        tallest = page.evaluate("Math.max(...[...document.querySelectorAll('#sightings tbody tr, #still-live tbody tr')]"
                                ".map(row => row.getBoundingClientRect().height))")
        assert tallest < 200, f"a sightings row is {tallest}px tall at 375px"
        assert page.evaluate("[...document.querySelectorAll('a.page-url')].every(a => a.title === a.href)")
    assert refusals == []
