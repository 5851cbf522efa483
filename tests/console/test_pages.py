"""The console through a browser-like client: login, cookies, CSRF, roles, decisions and errors."""

from __future__ import annotations

from sqlmodel import select

from api.console.views import SESSION_COOKIE
from api.invoicing.models import Invoice
from api.licensing.models import Licence, LicenceRequest
from api.licensing.states import LicenceState
from api.partners.models import Partner, PartnerStatus
from api.staff.models import StaffSession
from tests.builders import STAFF_PASSWORD, make_article, make_licence, make_partner, make_staff
from tests.console.helpers import csrf_in, log_in, submitted_request


def _fresh(session, model, id_):
    session.commit()  # end the test's read snapshot, so the app's commits are seen
    session.expire_all()
    return session.get(model, id_)


# --- login and session -------------------------------------------------------------------------


def test_pages_need_a_login(console) -> None:
    for path in ("/console", "/console/requests", "/console/invoices", "/console/audit"):
        response = console.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/console/login"), path


def test_login_sets_a_strict_httponly_secure_cookie_and_logout_revokes_the_session(console, session) -> None:
    csrf = log_in(console, session, roles=["licensing"])
    login_session = session.exec(select(StaffSession)).one()
    response = console.post("/console/login", data={}, follow_redirects=False)  # no form token: refused
    assert response.status_code == 403
    dashboard = console.get("/console")
    assert dashboard.status_code == 200 and "Requests to decide" in dashboard.text

    console.post("/console/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert _fresh(session, StaffSession, login_session.id).revoked_at is not None
    assert console.get("/console", follow_redirects=False).status_code == 303


def test_cookie_flags(console, session) -> None:
    staff = make_staff(session, roles=["finance"])
    session.commit()
    token = csrf_in(console.get("/console/login").text)
    response = console.post("/console/login", data={"email": staff.email, "password": STAFF_PASSWORD,
                                                    "csrf_token": token}, follow_redirects=False)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= flags
    assert "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()


def test_old_cookie_stops_working_after_logout(console, session) -> None:
    csrf = log_in(console, session, roles=["licensing"])
    kept = {"Cookie": f"{SESSION_COOKIE}={console.cookies.get(SESSION_COOKIE)}"}
    assert console.get("/console/requests", headers=kept, follow_redirects=False).status_code == 200
    console.post("/console/logout", data={"csrf_token": csrf})
    console.cookies.clear()
    assert console.get("/console/requests", headers=kept, follow_redirects=False).status_code == 303


def test_wrong_password_is_shown_and_the_email_kept(console, session) -> None:
    staff = make_staff(session, roles=["licensing"])
    session.commit()
    token = csrf_in(console.get("/console/login").text)
    response = console.post("/console/login", data={"email": staff.email, "password": "not-the-password",
                                                    "csrf_token": token})
    assert response.status_code == 401
    assert "E-mail or password is wrong" in response.text and f'value="{staff.email}"' in response.text
    assert SESSION_COOKIE not in response.cookies


# --- CSRF ------------------------------------------------------------------------------------------


def test_posts_without_the_sessions_csrf_token_are_refused(console, session) -> None:
    request = submitted_request(session)
    log_in(console, session, roles=["licensing"])
    other_console_token = "0" * 64
    for data in ({}, {"csrf_token": other_console_token}):
        response = console.post(f"/console/requests/{request.id}/approve", data=data)
        assert response.status_code == 403
        assert "Reload the page" in response.text
    assert _fresh(session, LicenceRequest, request.id).state == "in_review"


def test_a_token_from_an_earlier_session_is_refused(console, session) -> None:
    request = submitted_request(session)
    old = log_in(console, session, roles=["licensing"])
    console.post("/console/logout", data={"csrf_token": old})
    new = log_in(console, session, roles=["licensing"])
    assert new != old
    assert console.post(f"/console/requests/{request.id}/approve", data={"csrf_token": old}).status_code == 403
    assert _fresh(session, LicenceRequest, request.id).state == "in_review"


# --- decisions from the request page -------------------------------------------------------------


def test_queue_lists_the_request_and_its_page_offers_the_decisions(console, session) -> None:
    request = submitted_request(session)
    log_in(console, session, roles=["licensing"])
    queue = console.get("/console/requests")
    assert queue.status_code == 200 and request.id in queue.text
    page = console.get(f"/console/requests/{request.id}")
    assert "Putin and Syria" in page.text
    for action in ("approve", "reject", "counter"):
        assert f"/console/requests/{request.id}/{action}" in page.text
    assert console.get("/console/requests/lrq_nope").status_code == 404


def test_approve_with_another_price_and_conditions_grants_the_licence(console, session) -> None:
    request = submitted_request(session)
    csrf = log_in(console, session, roles=["licensing"])
    response = console.post(f"/console/requests/{request.id}/approve", follow_redirects=False, data={
        "csrf_token": csrf, "amount": "1,234.50", "conditions": "Credit the author\n\nLink to the original"})
    assert response.status_code == 303
    assert _fresh(session, LicenceRequest, request.id).state == "approved"
    licence = session.exec(select(Licence).where(Licence.request_id == request.id)).one()
    assert (licence.amount, licence.conditions) == (123_450, ["Credit the author", "Link to the original"])
    page = console.get(response.headers["location"])
    assert "Approved: the licence is granted." in page.text and licence.id in page.text
    assert "1,234.50 GBP" in page.text


def test_reject_needs_a_reason_and_keeps_what_was_typed(console, session) -> None:
    request = submitted_request(session)
    csrf = log_in(console, session, roles=["licensing"])
    response = console.post(f"/console/requests/{request.id}/reject", data={"csrf_token": csrf, "reason": "   "})
    assert response.status_code == 422
    assert "Say why the request is rejected" in response.text and "Traceback" not in response.text
    assert _fresh(session, LicenceRequest, request.id).state == "in_review"
    response = console.post(f"/console/requests/{request.id}/reject",
                            data={"csrf_token": csrf, "reason": "Not in that territory."})
    assert response.status_code == 200 and "Rejected" in response.text
    rejected = _fresh(session, LicenceRequest, request.id)
    assert (rejected.state, rejected.decision_reason) == ("rejected", "Not in that territory.")


def test_counter_offer_sets_the_offer(console, session) -> None:
    request = submitted_request(session, currency="EUR")
    csrf = log_in(console, session, roles=["admin"])
    response = console.post(f"/console/requests/{request.id}/counter", data={
        "csrf_token": csrf, "amount": "99.5", "conditions": "Link back", "message": "Our best price."})
    assert response.status_code == 200 and "Counter-offer sent" in response.text
    countered = _fresh(session, LicenceRequest, request.id)
    assert (countered.state, countered.offered_amount, countered.conditions, countered.decision_reason) == (
        "countered", 9_950, ["Link back"], "Our best price.")


def test_a_bad_amount_is_explained_with_the_form_values_kept(console, session) -> None:
    request = submitted_request(session)
    csrf = log_in(console, session, roles=["licensing"])
    response = console.post(f"/console/requests/{request.id}/counter", data={
        "csrf_token": csrf, "amount": "twelve", "conditions": "Link back", "message": "Keep this message"})
    assert response.status_code == 422
    assert "is not an amount" in response.text
    assert 'value="twelve"' in response.text and "Keep this message</textarea>" in response.text
    assert _fresh(session, LicenceRequest, request.id).state == "in_review"


def test_deciding_twice_shows_who_decided(console, session) -> None:
    request = submitted_request(session)
    csrf = log_in(console, session, roles=["licensing"])
    console.post(f"/console/requests/{request.id}/reject", data={"csrf_token": csrf, "reason": "No."})
    response = console.post(f"/console/requests/{request.id}/approve", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "was already rejected" in response.text
    assert session.exec(select(Licence).where(Licence.request_id == request.id)).first() is None


# --- roles -----------------------------------------------------------------------------------------


def test_roles_are_those_of_the_api(console, session) -> None:
    request = submitted_request(session)
    csrf = log_in(console, session, roles=["finance"])
    refused = console.get("/console/requests")
    assert refused.status_code == 403 and "Only licensing or admin staff may decide licence requests" in refused.text
    assert console.post(f"/console/requests/{request.id}/approve", data={"csrf_token": csrf}).status_code == 403
    assert _fresh(session, LicenceRequest, request.id).state == "in_review"
    assert console.get("/console/invoices").status_code == 200
    assert console.get("/console/partners").status_code == 200  # finance reads billing details
    assert "/verify" not in console.get("/console/partners").text


def test_licensing_staff_cannot_open_invoices(console, session) -> None:
    log_in(console, session, roles=["licensing"])
    response = console.get("/console/invoices")
    assert response.status_code == 403 and "finance" in response.text


# --- licences, invoices, partners, audit -----------------------------------------------------------


def test_revoke_a_licence(console, session) -> None:
    licence = make_licence(session, partner=make_partner(session), articles=[make_article(session)])
    session.commit()
    csrf = log_in(console, session, roles=["licensing"])
    assert licence.id in console.get("/console/licences").text
    blank = console.post(f"/console/licences/{licence.id}/revoke", data={"csrf_token": csrf, "reason": ""})
    assert blank.status_code == 422 and "Say why the licence is revoked" in blank.text
    done = console.post(f"/console/licences/{licence.id}/revoke", data={"csrf_token": csrf, "reason": "Takedown"})
    assert done.status_code == 200 and "Licence revoked." in done.text
    assert _fresh(session, Licence, licence.id).state == LicenceState.revoked


def test_finance_marks_a_ledger_invoice_paid(console, session, settings) -> None:
    from tests.reports.data import invoice_for

    invoice = invoice_for(session, settings, partner=make_partner(session), amount=45_000)
    session.commit()
    csrf = log_in(console, session, roles=["finance"])
    page = console.get("/console/invoices")
    assert "450.00 GBP" in page.text and f"/console/invoices/{invoice.id}/mark-paid" in page.text
    response = console.post(f"/console/invoices/{invoice.id}/mark-paid", data={"csrf_token": csrf, "reference": "BACS 9"})
    assert response.status_code == 200 and "Payment recorded" in response.text
    paid = _fresh(session, Invoice, invoice.id)
    assert (paid.status, paid.payment_reference) == ("paid", "BACS 9")
    assert session.get(Licence, paid.licence_id).state == LicenceState.active


def test_verify_and_suspend_a_partner(console, session) -> None:
    partner = make_partner(session, verified=False)
    session.commit()
    csrf = log_in(console, session, roles=["licensing"])
    console.post(f"/console/partners/{partner.id}/verify", data={"csrf_token": csrf})
    assert _fresh(session, Partner, partner.id).status == PartnerStatus.active
    console.post(f"/console/partners/{partner.id}/suspend", data={"csrf_token": csrf, "reason": "Unpaid"})
    assert _fresh(session, Partner, partner.id).status == PartnerStatus.suspended
    audit = console.get("/console/audit", params={"object_type": "partner", "object_id": partner.id})
    assert audit.status_code == 200 and "partner.suspended" in audit.text and "Unpaid" in audit.text


def test_dashboard_shows_figures_from_the_reports(console, session) -> None:
    submitted_request(session)
    log_in(console, session, roles=["finance"])
    page = console.get("/console")
    assert "Revenue this month" in page.text and "0.00 GBP" in page.text and "queue-size" not in page.text
    log_in(console, session, roles=["licensing"])
    page = console.get("/console")
    assert 'id="queue-size">1<' in page.text and "Revenue this month" not in page.text


def test_a_stale_page_link_is_explained_not_answered_with_json(console, session) -> None:
    log_in(console, session, roles=["licensing"])
    response = console.get("/console/requests", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    assert "start again without it" in response.text
