"""Session rules in a real browser (Debian's chromium): an admin change asks for the password and then
goes through, the password page, and the login page after an idle timeout; each axe-clean, no CSP
refusal, 375 px wide at most."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from api.core.db import utcnow
from api.staff.models import StaffSession, StaffUser
from tests.builders import STAFF_PASSWORD, make_staff
from tests.console.test_browser import (  # noqa: F401 - live_url is a fixture
    ARGS, CHROMIUM, SCREENSHOTS, assert_no_serious_axe_violation, live_url, log_in, pytestmark, staff_browser,
)


def _move_back(session, **minutes: int) -> None:
    session.rollback()
    for row in session.exec(select(StaffSession)).all():
        for column, ago in minutes.items():
            setattr(row, column, utcnow() - timedelta(minutes=ago))
        session.add(row)
    session.commit()


def _fits_375(page, name: str) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name} is {width}px wide at 375px"
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_reauthentication_and_signing_out_in_a_real_browser(chromium, live_url, session) -> None:  # noqa: F811
    from playwright.sync_api import expect

    staff = make_staff(session, roles=["admin"])
    session.commit()
    with staff_browser(chromium, live_url, staff) as (page, refusals):
        expect(page.locator("nav")).to_be_visible()
        _move_back(session, password_at=6)

        page.goto(f"{live_url}/console/staff")
        page.fill("#new-name", "Nadia Newcomer")
        page.fill("#new-email", "nadia@example.com")
        page.fill("#new-password", "lantern orbit quietly folded")
        page.check("input[name=roles][value=editor] >> nth=-1")
        page.click("button:has-text('Create the account')")
        expect(page.locator("h1")).to_have_text("Confirm your password")
        assert_no_serious_axe_violation(page, "re-authentication")
        page.screenshot(path=str(SCREENSHOTS / "console-reauthenticate.png"), full_page=True)
        _fits_375(page, "reauthenticate")
        page.fill("#reauth_password", STAFF_PASSWORD)
        page.click("button:has-text('Confirm and continue')")
        expect(page.locator(".flash.ok")).to_contain_text("Staff account created")
        session.rollback()
        assert session.exec(select(StaffUser).where(StaffUser.email == "nadia@example.com")).one()

        page.click("text=Password")
        expect(page.locator("h1")).to_have_text("Change your password")
        assert_no_serious_axe_violation(page, "password")
        _fits_375(page, "password")

        _move_back(session, last_seen_at=31)
        page.goto(f"{live_url}/console/staff")
        expect(page.locator(".flash.notice")).to_contain_text("signed out after 30 minutes without activity")
        assert page.url.endswith("/console/login?signed_out=idle")
        assert_no_serious_axe_violation(page, "signed out")
        page.screenshot(path=str(SCREENSHOTS / "console-signed-out.png"), full_page=True)
    assert refusals == []
