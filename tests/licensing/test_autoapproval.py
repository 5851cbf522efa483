"""Auto-approval rules: staff edit them; matching requests are approved at once by the system."""

from __future__ import annotations

import pytest
from sqlmodel import select

from api.audit.models import AuditEntry
from tests.builders import make_article, staff_headers
from tests.licensing.helpers import partner_with_key, request_body

RULE = {"name": "Small web requests", "uses": ["web", "newsletter"], "scopes": ["article"],
        "max_amounts": {"GBP": 20000}, "max_audience": 10_000, "max_months": 3}


def _rule(client, session, **changes) -> dict:
    staff = staff_headers(client, session, roles=["licensing"])
    response = client.post("/v1/staff/auto-approval-rules", headers=staff, json={**RULE, **changes})
    assert response.status_code == 201, response.text
    return response.json()


def _post(client, session, headers, **overrides):
    article = make_article(session)
    session.commit()
    response = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id], **overrides))
    assert response.status_code == 201, response.text
    return response.json()


def test_matching_request_is_approved_by_the_system(client, session) -> None:
    _rule(client, session)
    _partner, headers = partner_with_key(session, verified=True)
    request = _post(client, session, headers)
    assert request["status"] == "approved" and request["licence_id"]
    licence = client.get(f"/v1/licences/{request['licence_id']}", headers=headers).json()
    assert licence["status"] == "awaiting_payment" and licence["amount"] == 15000
    entries = session.exec(select(AuditEntry).where(AuditEntry.object_id == request["id"])
                           .order_by(AuditEntry.at, AuditEntry.id)).all()
    assert [(e.action, e.actor_type, e.actor_id) for e in entries] == [
        ("licence_request.submitted", "partner", request["partner_id"]),
        ("licence_request.in_review", "system", "intake"),
        ("licence_request.approved", "system", "auto-approval"),
    ]
    assert entries[-1].after["auto_approval_rule"]
    session.commit()


@pytest.mark.parametrize(("partner_kwargs", "overrides", "rule_changes"), [
    ({"verified": False}, {}, {}),
    ({}, {"notes": "Can we also use the photo?"}, {}),
    ({}, {"use": "print"}, {}),
    ({}, {"audience_size": 50_000}, {}),
    ({}, {"territories": ["US"], "audience_size": 10_000, "period_months": 3}, {"max_amounts": {"GBP": 20000}, "max_audience": None}),
    ({}, {"period_months": 6}, {"max_amounts": {"GBP": 100000}}),
    ({"currency": "EUR"}, {}, {}),
    ({}, {}, {"enabled": False}),
], ids=["unverified", "notes", "use", "audience", "over-threshold", "too-long", "other-currency", "disabled"])
def test_anything_else_waits_for_a_person(client, session, partner_kwargs, overrides, rule_changes) -> None:
    _rule(client, session, **rule_changes)
    _partner, headers = partner_with_key(session, **partner_kwargs)
    request = _post(client, session, headers, **overrides)
    assert request["status"] == "in_review" and request["licence_id"] is None


def test_staff_edit_and_delete_rules(client, session) -> None:
    rule = _rule(client, session)
    staff = staff_headers(client, session, roles=["licensing"])
    changed = client.patch(f"/v1/staff/auto-approval-rules/{rule['id']}", headers=staff,
                           json={"enabled": False, "max_audience": None})
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False and changed.json()["max_audience"] is None
    assert changed.json()["uses"] == ["web", "newsletter"]
    assert [r["id"] for r in client.get("/v1/staff/auto-approval-rules", headers=staff).json()["items"]] == [rule["id"]]
    bad = client.post("/v1/staff/auto-approval-rules", headers=staff, json={**RULE, "uses": ["smoke-signals"]})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"
    assert client.delete(f"/v1/staff/auto-approval-rules/{rule['id']}", headers=staff).status_code == 204
    gone = client.patch(f"/v1/staff/auto-approval-rules/{rule['id']}", headers=staff, json={"enabled": True})
    assert gone.status_code == 404 and gone.json()["type"] == "/problems/auto-approval-rule-not-found"
    editor = staff_headers(client, session, roles=["editor"])
    assert client.post("/v1/staff/auto-approval-rules", headers=editor, json=RULE).status_code == 403
    actions = {e.action for e in session.exec(select(AuditEntry).where(AuditEntry.object_id == rule["id"])).all()}
    assert actions == {"auto_approval_rule.created", "auto_approval_rule.updated", "auto_approval_rule.deleted"}
    session.commit()


# A rule of "up to 3,000.00 GBP" over any scope and use: the threshold is the whole commitment.
WIDE_RULE = {"name": "Anything under 3,000 GBP", "uses": [], "scopes": [], "max_amounts": {"GBP": 300_000},
             "max_audience": None, "max_months": None}


@pytest.mark.parametrize(("body", "billing_modes", "state"), [
    # 40.00 GBP per article used, for 36 months of the whole catalogue: no bound at all.
    ({"scope": "catalogue", "billing_mode": "usage", "period_months": 36}, [], "in_review"),
    # 2,500.00 GBP a month is under the threshold; 36 months of it (90,000.00 GBP) is not.
    ({"scope": "catalogue", "billing_mode": "subscription", "period_months": 36}, [], "in_review"),
    # 600.00 GBP a month for 12 months is 7,200.00 GBP.
    ({"scope": "section_feed", "section": "news", "period_months": 12}, [], "in_review"),
    # A rule that lists only bounded modes still refuses usage billing.
    ({"scope": "catalogue", "billing_mode": "usage", "period_months": 36}, ["one_off", "subscription"], "in_review"),
    # 600.00 GBP for one month of a feed is under it: a bounded subscription can be approved.
    ({"scope": "section_feed", "section": "news", "period_months": 1}, [], "approved"),
    # A rule that explicitly takes usage billing bounds the price per article.
    ({"scope": "catalogue", "billing_mode": "usage", "period_months": 36}, ["usage"], "approved"),
    # A small one-off article request (150.00 GBP).
    ({"article": True}, [], "approved"),
], ids=["catalogue-usage", "catalogue-subscription", "feed-subscription-12-months", "usage-not-listed",
        "feed-subscription-1-month", "usage-listed", "one-off-article"])
def test_the_threshold_bounds_the_whole_commitment(client, session, body, billing_modes, state) -> None:
    _rule(client, session, **WIDE_RULE, billing_modes=billing_modes)
    _partner, headers = partner_with_key(session, verified=True)
    article = make_article(session, section="news")
    session.commit()
    overrides = {"article_ids": [article.id]} if body.pop("article", False) else {}
    response = client.post("/v1/licence-requests", headers=headers, json=request_body(**{**overrides, **body}))
    assert response.status_code == 201, response.text
    assert response.json()["status"] == state
    assert (response.json()["licence_id"] is not None) == (state == "approved")


def test_rules_list_their_billing_modes(client, session) -> None:
    rule = _rule(client, session, billing_modes=["usage"])
    assert rule["billing_modes"] == ["usage"]
    staff = staff_headers(client, session, roles=["licensing"])
    bad = client.post("/v1/staff/auto-approval-rules", headers=staff, json={**RULE, "billing_modes": ["barter"]})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/validation"


def test_rules_are_listed_a_page_at_a_time_oldest_first(client, session) -> None:
    made = [_rule(client, session, name=f"Rule {n}")["id"] for n in range(3)]
    staff = staff_headers(client, session, roles=["licensing"])
    seen, cursor = [], None
    while True:
        page = client.get("/v1/staff/auto-approval-rules", headers=staff,
                          params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 2
        seen += [r["id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert seen == made
    bad = client.get("/v1/staff/auto-approval-rules", headers=staff, params={"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["type"] == "/problems/bad-cursor"


def test_a_rule_bound_beyond_what_its_columns_hold_is_refused_not_a_server_error(client, session) -> None:
    """Schemathesis found this one: an audience of 10^20 reached the database and answered 500."""
    staff = staff_headers(client, session, roles=["licensing"])
    for field, value in (("max_audience", 10**20), ("max_months", 10**6)):
        response = client.post("/v1/staff/auto-approval-rules", headers=staff, json={**RULE, field: value})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert f"body.{field}" in response.json()["detail"]
