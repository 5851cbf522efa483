"""Rate card and auto-approval rule pages: preview, publish, stale tab refused, rules and dry runs, by role."""

from __future__ import annotations

import re

import pytest

from api.licensing import ratecard
from api.licensing.ratecard import current_card
from tests.console.helpers import log_in, submitted_request


def _form(html: str) -> dict[str, str]:
    """Every text input of the rate card form with the value the page filled in."""
    fields = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', html))
    return {k: v for k, v in fields.items() if k not in ("action",)}


@pytest.mark.parametrize("path", ["/console/rate-card", "/console/rules"])
@pytest.mark.parametrize("role, status", [("licensing", 200), ("admin", 200), ("finance", 403), ("editor", 403)])
def test_pages_by_role(console, session, path, role, status):
    ratecard.ensure_default_rate_card(session)
    session.commit()
    log_in(console, session, roles=[role])
    assert console.get(path).status_code == status


def test_preview_then_publish_and_a_stale_tab_is_refused_naming_the_newer_version(console, session):
    ratecard.ensure_default_rate_card(session)
    session.commit()
    log_in(console, session, roles=["licensing"])
    page = console.get("/console/rate-card")
    assert "One article" in page.text and "150.00" in page.text  # major units, not 15000
    form = _form(page.text)
    stale_form = dict(form)
    form["use.web"] = "2"
    preview = console.post("/console/rate-card", data={**form, "action": "preview"})
    assert preview.status_code == 200 and "What typical requests would cost" in preview.text
    assert "150.00 GBP" in preview.text and "300.00 GBP" in preview.text
    _card, version = current_card(session)
    published = console.post("/console/rate-card", data={**form, "action": "publish", "note": "Web doubles"},
                             follow_redirects=False)
    assert published.status_code == 303
    session.commit()
    card, newer = current_card(session)
    assert newer == version + 1 and card.use_multipliers_bp["web"] == 20000
    stale = console.post("/console/rate-card", data={**stale_form, "action": "publish", "use.print": "3"})
    assert stale.status_code == 409 and f"version {newer} has been published since (Web doubles)" in stale.text
    session.commit()
    assert current_card(session)[1] == newer
    bad = console.post("/console/rate-card", data={**_form(console.get("/console/rate-card").text),
                                                   "use.web": "lots", "action": "preview"})
    assert bad.status_code == 422 and "lots" in bad.text


def test_rules_are_created_edited_and_dry_run_on_recent_requests(console, session):
    request = submitted_request(session)
    log_in(console, session, roles=["licensing"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', console.get("/console/rules").text).group(1)
    rule = {"csrf_token": csrf, "name": "Small web", "enabled": "1", "use.web": "1",
            "max_amount.GBP": f"{request.quoted_amount / 100:.2f}"}
    dry = console.post("/console/rules", data={**rule, "action": "dry_run"})
    assert dry.status_code == 200 and "would have approved 1 of the last 1 requests" in dry.text
    assert "Partner Outlet" in dry.text and "In review" in dry.text
    saved = console.post("/console/rules", data={**rule, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303
    listing = console.get("/console/rules")
    assert "Small web" in listing.text and "Enabled" in listing.text and "Web" in listing.text
    rule_id = re.search(r'/console/rules\?edit=(aar_\w+)', listing.text).group(1)
    edit = console.get(f"/console/rules?edit={rule_id}")
    assert 'value="Small web"' in edit.text
    console.post("/console/rules", data={**rule, "rule_id": rule_id, "name": "Tiny web", "action": "save"})
    assert "Tiny web" in console.get("/console/rules").text and "Small web" not in console.get("/console/rules").text
    nameless = console.post("/console/rules", data={**rule, "name": "", "action": "save"})
    assert nameless.status_code == 422
