"""The partner verification page: details and history beside verify/suspend, by role."""

from __future__ import annotations

import pytest

from api.partners.models import Partner, PartnerStatus
from tests.builders import make_article, make_licence, make_partner
from tests.console.helpers import log_in, submitted_request


def _status(session, partner_id: str) -> PartnerStatus:
    session.commit()
    session.expire_all()
    return session.get(Partner, partner_id).status


@pytest.mark.parametrize("role, status", [("licensing", 200), ("finance", 200), ("admin", 200), ("editor", 403)])
def test_the_partner_page_by_role(console, session, role, status):
    request = submitted_request(session)
    licence = make_licence(session, partner=session.get(Partner, request.partner_id), articles=[make_article(session)],
                           amount=24_000)
    session.commit()
    log_in(console, session, roles=[role])
    page = console.get(f"/console/partners/{request.partner_id}")
    assert page.status_code == status
    if status != 200:
        return
    text = page.text
    assert "billing" in text and "@outlet.example" in text and "Active" in text
    assert "In review" in text and "Awaiting payment" in text and "240.00 GBP" in text and "One-off fee" in text
    assert ("/suspend" in text) is (role != "finance")  # the buttons only for who may use them
    assert (f'href="/console/licences/{licence.id}"' in text) is (role != "finance")
    assert ("Audit trail" in text) is (role != "finance")
    if role != "finance":
        assert "submitted the request." in text  # its audit entries, as sentences
    assert f'href="/console/partners/{request.partner_id}"' in console.get("/console/partners").text


def test_verify_and_suspend_from_the_partner_page(console, session):
    pending = make_partner(session, verified=False, name="Pending Post")
    session.commit()
    csrf = log_in(console, session, roles=["licensing"])
    page = console.get(f"/console/partners/{pending.id}")
    assert "Pending" in page.text and "Verify Pending Post" in page.text
    verified = console.post(f"/console/partners/{pending.id}/verify", follow_redirects=False,
                            data={"csrf_token": csrf, "back": "partner"})
    assert verified.status_code == 303 and verified.headers["location"] == f"/console/partners/{pending.id}?done=active"
    assert _status(session, pending.id) == PartnerStatus.active
    assert "Partner verified" in console.get(verified.headers["location"]).text
    suspended = console.post(f"/console/partners/{pending.id}/suspend",
                             data={"csrf_token": csrf, "back": "partner", "reason": "Unpaid invoices"})
    assert suspended.status_code == 200 and "Partner suspended" in suspended.text and "Reactivate" in suspended.text
    assert _status(session, pending.id) == PartnerStatus.suspended
    assert "Unpaid invoices" in suspended.text  # the audit entry, behind its toggle
    again = console.post(f"/console/partners/{pending.id}/suspend", data={"csrf_token": csrf, "back": "partner"})
    assert again.status_code == 200 and "Pending Post" in again.text
    assert console.get("/console/partners/ptn_missing").status_code == 404


def test_finance_may_read_but_not_decide(console, session):
    pending = make_partner(session, verified=False)
    session.commit()
    csrf = log_in(console, session, roles=["finance"])
    assert console.get(f"/console/partners/{pending.id}").status_code == 200
    refused = console.post(f"/console/partners/{pending.id}/verify", data={"csrf_token": csrf, "back": "partner"})
    assert refused.status_code == 403 and _status(session, pending.id) == PartnerStatus.pending
