"""The audit trail reads as sentences with names and money, the raw entry one click away."""

from __future__ import annotations

from api.audit.service import Actor
from api.licensing import decisions
from tests.builders import make_staff
from tests.console.helpers import log_in, submitted_request


def test_the_audit_trail_reads_as_sentences_with_names_money_and_links(console, session) -> None:
    request = submitted_request(session)
    alice = make_staff(session, roles=["licensing"])
    alice.name = "Alice Example"
    session.flush()
    decisions.approve(session, request.id, actor=Actor("staff", alice.id), amount=15000)
    session.commit()
    log_in(console, session, roles=["admin"])

    page = console.get("/console/audit", params={"object_id": request.id})

    assert page.status_code == 200
    assert "Alice Example approved the request at 150.00 GBP." in page.text
    assert f'href="/console/requests/{request.id}"' in page.text
    assert "Raw entry" in page.text and "licence_request.approved" in page.text  # the code behind the toggle
    partner_page = console.get(f"/console/partners/{request.partner_id}")
    assert "submitted the request." in partner_page.text and "Alice Example approved the request at 150.00 GBP." in partner_page.text
