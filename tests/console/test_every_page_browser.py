"""Every console page, found from the app's own routes (so a new page cannot be missed), opened in a
real browser as an admin: axe-core finds no serious or critical violation, no page scrolls sideways
at 375 px, the CSP refuses nothing, and a screenshot at each width is kept as an artefact."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.routing import APIRoute

from api.console import routes as console_routes
from api.core.db import utcnow
from tests.browser_checks import assert_no_serious_axe_violation
from tests.builders import make_article, make_licence, make_partner, make_staff
from tests.console.helpers import submitted_request
from tests.console.test_browser import (  # noqa: F401 - live_url is a fixture
    SCREENSHOTS, live_url, log_in, pytestmark, staff_browser,
)


def console_pages() -> list[str]:
    """The path of every page the console serves (GET, HTML), with its parameters' names."""
    routers = [console_routes.router, *(module.router for module in vars(console_routes).values()
                                        if getattr(module, "__name__", "").endswith("_pages"))]
    paths = {route.path if route.path.startswith("/console") else "/console" + route.path
             for router in routers for route in router.routes
             if isinstance(route, APIRoute) and "GET" in route.methods}
    return sorted(path for path in paths if not path.endswith(".csv"))


def test_every_console_page_is_accessible_and_fits_a_phone(chromium, live_url, session, settings) -> None:  # noqa: F811
    from tests.reports.data import paid_invoice

    request = submitted_request(session)
    partner = make_partner(session, name="Outlet Gazette")
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=24_000)
    paid_invoice(session, settings, partner=partner, amount=150_00, paid_at=utcnow() - timedelta(hours=1))
    admin = make_staff(session, roles=["admin"])
    session.commit()
    ids = {"request_id": request.id, "licence_id": licence.id, "partner_id": partner.id}
    pages = [re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path) for path in console_pages()]
    assert "/console/audit" in pages and f"/console/licences/{licence.id}" in pages and len(pages) >= 15, pages

    with staff_browser(chromium, live_url, admin) as (page, refusals):
        for path in pages:
            name = path.strip("/").replace("/", "-").split("-", 2)[-1][:40] or "console"
            page.set_viewport_size({"width": 1280, "height": 900})
            response = page.goto(f"{live_url}{path}")
            assert response is not None and response.status == 200, f"{path}: {response and response.status}"
            assert_no_serious_axe_violation(page, path)
            page.screenshot(path=str(SCREENSHOTS / f"every-{name}-desktop.png"), full_page=True)
            page.set_viewport_size({"width": 375, "height": 812})
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"{path} is {width}px wide at 375px"
            page.screenshot(path=str(SCREENSHOTS / f"every-{name}-375.png"), full_page=True)
    assert refusals == []
