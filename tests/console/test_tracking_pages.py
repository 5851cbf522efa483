"""The console's sightings and still-live pages: what they list, and closing a case with a note."""

from __future__ import annotations

from sqlmodel import select

from api.audit.models import AuditEntry
from api.tracking.models import StillLiveCase
from tests.console.helpers import log_in
from tests.tracking.data import copies_with_a_case


def test_sightings_list_pages_views_and_days_and_filter_by_licence_and_article(console, session):
    case = copies_with_a_case(session)
    log_in(console, session, roles=["finance"])
    page = console.get("/console/sightings")
    assert page.status_code == 200 and "Outlet Gazette" in page.text and "https://outlet.example/b" in page.text
    assert page.text.count("<tr id=\"bcn_") == 3 and "By day" in page.text
    by_article = console.get("/console/sightings", params={"article_id": case.article_id})
    assert by_article.text.count("<tr id=\"bcn_") == 2 and "https://outlet.example/b" not in by_article.text
    assert console.get("/console/sightings", params={"licence_id": "lic_none"}).text.count("<tr id=\"bcn_") == 0
    assert "<script" not in page.text.split("</head>")[1]  # strict CSP: no inline scripts


def test_licence_and_request_pages_link_to_their_copies(console, session):
    case = copies_with_a_case(session)
    log_in(console, session, roles=["licensing"])
    licence = console.get(f"/console/licences/{case.licence_id}").text
    assert f'/console/sightings?licence_id={case.licence_id}' in licence
    assert f'/console/still-live?status=all&amp;licence_id={case.licence_id}' in licence


def test_staff_close_a_case_with_a_note_and_an_empty_note_is_refused(console, session):
    case = copies_with_a_case(session)
    csrf = log_in(console, session, roles=["licensing"])
    listed = console.get("/console/still-live")
    assert case.page_url in listed.text and "Article withdrawn" in listed.text and "Outlet Gazette" in listed.text
    refused = console.post(f"/console/still-live/{case.id}/close", data={"csrf_token": csrf, "note": "  "})
    assert refused.status_code == 422 and "Write a note" in refused.text
    closed = console.post(f"/console/still-live/{case.id}/close", data={"csrf_token": csrf, "note": "Removed"},
                          follow_redirects=False)
    assert closed.status_code == 303 and closed.headers["location"] == "/console/still-live?done=closed"
    session.rollback()
    assert session.get(StillLiveCase, case.id, populate_existing=True).close_note == "Removed"
    assert session.exec(select(AuditEntry).where(AuditEntry.object_id == case.id,
                                                 AuditEntry.action == "still_live.closed")).one().actor_type == "staff"
    assert case.page_url not in console.get("/console/still-live").text
    assert "Removed" in console.get("/console/still-live", params={"status": "closed"}).text


def test_finance_see_cases_but_cannot_close_them(console, session):
    case = copies_with_a_case(session)
    csrf = log_in(console, session, roles=["finance"])
    assert "Why close it" not in console.get("/console/still-live").text
    refused = console.post(f"/console/still-live/{case.id}/close", data={"csrf_token": csrf, "note": "x"})
    assert refused.status_code == 403


def test_editors_see_neither_page(console, session):
    log_in(console, session, roles=["editor"])
    assert console.get("/console/sightings").status_code == 403
    assert console.get("/console/still-live").status_code == 403
