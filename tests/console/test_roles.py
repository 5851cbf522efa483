"""Every console page and form action, each role: one table says which permission (from the one
table in api/staff/permissions.py) guards it and what an allowed role gets, and the walk logs in
as each role and checks the answer: allowed -> that status, denied -> 403 with the refusal that
names the permission. A console route missing from the table fails the suite, and so does an
entry whose permission differs from the one the route declares. The navigation shows a role
exactly the pages it may open."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.staff.models import ROLES
from api.staff.permissions import roles_allowed
from tests.builders import make_article, make_licence, make_partner, make_staff
from tests.console.helpers import log_in, submitted_request
from tests.tracking.data import copies_with_a_case
from tests.staff.test_permissions import staff_operations

ANY = "any staff"  # the dashboard and one's own session: every role

# (method, path) -> (permission, what an allowed role gets). The forms are posted empty but for the
# CSRF token, so an allowed action answers with its own complaint or its redirect, walked in this
# order: an approval at the quoted price (303) comes before the counter-offer it then makes
# impossible (422); the rate card's empty form names no version to edit (404); invoicing a partner
# or licence with nothing billable is a conflict (409).
CONSOLE: dict[tuple[str, str], tuple[str, int]] = {
    ("GET", "/console"): (ANY, 200),
    ("GET", "/console/password"): (ANY, 200),
    ("GET", "/console/requests"): ("licensing", 200),
    ("GET", "/console/requests/{request_id}"): ("licensing", 200),
    ("GET", "/console/requests.csv"): ("licensing", 200),
    ("GET", "/console/licences.csv"): ("licensing", 200),
    ("GET", "/console/invoices.csv"): ("invoices", 200),
    ("GET", "/console/partners.csv"): ("partner-details", 200),
    ("POST", "/console/requests/{request_id}/approve"): ("licensing", 303),
    ("POST", "/console/requests/{request_id}/counter"): ("licensing", 422),
    ("POST", "/console/requests/{request_id}/reject"): ("licensing", 422),
    ("GET", "/console/licences"): ("licensing", 200),
    ("GET", "/console/licences/{licence_id}"): ("licensing", 200),
    ("POST", "/console/licences/{licence_id}/amend"): ("licensing", 422),
    ("POST", "/console/licences/{licence_id}/quota-grants"): ("licensing", 422),
    ("POST", "/console/licences/{licence_id}/revoke"): ("licensing", 422),
    ("POST", "/console/licences/{licence_id}/cancel"): ("licensing", 422),
    ("POST", "/console/licences/{licence_id}/invoice-now"): ("invoices", 409),
    ("GET", "/console/rate-card"): ("licensing", 200),
    ("POST", "/console/rate-card"): ("licensing", 404),
    ("GET", "/console/rules"): ("licensing", 200),
    ("POST", "/console/rules"): ("licensing", 422),
    ("GET", "/console/invoices"): ("invoices", 200),
    ("POST", "/console/invoices/{invoice_id}/mark-paid"): ("invoices", 422),
    ("GET", "/console/invoicing/next-run"): ("invoices", 200),
    ("POST", "/console/partners/{partner_id}/invoice-now"): ("invoices", 409),
    ("GET", "/console/revenue"): ("revenue", 200),
    ("GET", "/console/revenue/{table}.csv"): ("revenue", 200),
    ("GET", "/console/partners"): ("partner-details", 200),
    ("GET", "/console/partners/{partner_id}"): ("partner-details", 200),
    ("POST", "/console/partners/{partner_id}/verify"): ("partners", 303),
    ("POST", "/console/partners/{partner_id}/suspend"): ("partners", 303),
    ("GET", "/console/sightings"): ("usage", 200),
    ("GET", "/console/still-live"): ("usage", 200),
    ("POST", "/console/still-live/{case_id}/close"): ("licensing", 422),
    ("GET", "/console/audit"): ("audit", 200),
    ("GET", "/console/operations/reconcile"): ("invoices", 200),
    ("GET", "/console/operations/outbox"): ("outbox", 200),
    ("POST", "/console/operations/outbox/{message_id}/retry"): ("outbox", 303),
    ("GET", "/console/operations/webhooks"): ("partners", 200),
    ("GET", "/console/staff"): ("staff", 200),
    ("POST", "/console/staff"): ("staff", 422),
    ("POST", "/console/staff/{staff_id}/roles"): ("staff", 422),
    ("POST", "/console/staff/{staff_id}/disable"): ("staff", 303),
    ("POST", "/console/staff/{staff_id}/enable"): ("staff", 303),
    ("POST", "/console/password"): (ANY, 422),
    ("POST", "/console/logout"): (ANY, 303),  # walked last: it ends the session
}
PUBLIC = {("GET", "/console/login"), ("POST", "/console/login")}  # before any session: tests/console/test_pages.py
# The pages the navigation offers (the header's <nav>); the others are reached from these.
NAVIGATION = ["/console", "/console/requests", "/console/licences", "/console/rate-card", "/console/rules",
              "/console/invoices", "/console/invoicing/next-run", "/console/revenue", "/console/partners",
              "/console/sightings", "/console/still-live", "/console/audit", "/console/operations/reconcile", "/console/operations/outbox", "/console/staff",
              "/console/operations/webhooks"]


def may(role: str, permission: str) -> bool:
    return permission == ANY or role in roles_allowed(permission)


def test_the_table_names_every_console_route_with_the_permission_it_declares(app) -> None:
    declared = {(op.method, op.path): op.permission or ANY for op in staff_operations(app) if op.console}
    missing = sorted(set(declared) - set(CONSOLE))
    assert not missing, f"console routes without an entry in CONSOLE: {missing}"
    assert set(CONSOLE) == set(declared), sorted(set(CONSOLE) - set(declared))
    wrong = {key: (CONSOLE[key][0], declared[key]) for key in CONSOLE if CONSOLE[key][0] != declared[key]}
    assert not wrong, wrong
    assert {"/console", "/console/requests", "/console/licences", "/console/invoicing/next-run", "/console/audit"} <= {
        path for method, path in CONSOLE if method == "GET"}


@pytest.fixture
def objects(session, settings) -> dict[str, str]:
    """One real object of each kind a console path names, so an allowed page renders (200), not 404."""
    from sqlmodel import select

    from api.outbox import service as outbox
    from api.outbox.models import OutboxMessage
    from tests.reports.data import invoice_for

    request = submitted_request(session)
    partner = make_partner(session, name="Walked Gazette")
    licence = make_licence(session, partner=partner, articles=[make_article(session)], amount=24_000)
    invoice = invoice_for(session, settings, partner=partner, amount=150_00)
    outbox.enqueue(session, "email.send", {"subject": "walk"}, dedupe_key="email:role-walk")
    message = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "email:role-walk")).one()
    other = make_staff(session, roles=["editor"])
    case = copies_with_a_case(session)
    session.commit()
    return {"request_id": request.id, "licence_id": licence.id, "partner_id": partner.id, "invoice_id": invoice.id,
            "message_id": message.id, "staff_id": other.id, "table": "months",
            "case_id": case.id}


@pytest.fixture
def browser(app) -> Iterator[TestClient]:
    """A browser of its own (the test's `console` fixture is another role's)."""
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("role", ROLES)
def test_each_role_on_each_page_and_action(browser, session, objects, role) -> None:
    csrf = log_in(browser, session, roles=[role])
    wrong = []
    for (method, path), (permission, allowed_status) in sorted(CONSOLE.items(), key=lambda kv: kv[0][1] == "/console/logout"):
        url = re.sub(r"\{(\w+)\}", lambda m: objects[m.group(1)], path)
        response = browser.request(method, url, data={"csrf_token": csrf} if method == "POST" else None,
                                   follow_redirects=False)
        if may(role, permission):
            ok = response.status_code == allowed_status
        else:
            ok = response.status_code == 403 and f"(permission `{permission}`)" in response.text
        if not ok:
            wrong.append(f"{method} {path} as {role}: {response.status_code} {response.text[:120]!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_offers_exactly_what_the_role_may_open(browser, session, role) -> None:
    log_in(browser, session, roles=[role])
    dashboard = browser.get("/console")
    nav = re.search(r"<nav>(.*?)</nav>", dashboard.text, re.S)
    assert nav, "no navigation on the dashboard"
    offered = re.findall(r'href="([^"]+)"', nav.group(1))
    expected = [path for path in NAVIGATION if may(role, CONSOLE[("GET", path)][0])]
    assert offered == expected
    for path in offered:
        assert browser.get(path).status_code == 200, path
