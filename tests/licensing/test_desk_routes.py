"""Rate card edits from a stale read are refused; previews and rule dry runs reuse the real rules."""

from __future__ import annotations

from api.licensing import previews
from api.licensing.ratecard import DEFAULT_RATE_CARD, ensure_default_rate_card
from tests.builders import make_article, make_partner, staff_headers
from tests.console.helpers import submitted_request


def _card(**changes):
    card = DEFAULT_RATE_CARD.model_dump(mode="json")
    card.update(changes)
    return card


def test_publishing_from_a_stale_read_is_a_conflict_naming_the_newer_version(client, session):
    ensure_default_rate_card(session)
    staff = staff_headers(client, session, roles=["licensing"])
    read = client.get("/v1/rate-card")
    etag = read.headers["etag"]
    assert etag == f'"{read.json()["version"]}"'
    first = client.put("/v1/staff/rate-card", headers={**staff, "If-Match": etag},
                       json={"note": "Articles up", "card": _card(article_price={"GBP": 20000, "EUR": 23000, "USD": 25000})})
    assert first.status_code == 201 and first.headers["etag"] == f'"{read.json()["version"] + 1}"'
    stale = client.put("/v1/staff/rate-card", headers={**staff, "If-Match": etag}, json={"card": _card()})
    assert stale.status_code == 409 and stale.json()["type"] == "/problems/rate-card-version-conflict"
    assert f"version {read.json()['version'] + 1} has been published since (Articles up)" in stale.json()["detail"]
    assert client.get("/v1/rate-card").json()["version"] == read.json()["version"] + 1
    unconditional = client.put("/v1/staff/rate-card", headers=staff, json={"card": _card()})
    assert unconditional.status_code == 201  # without If-Match, as before


def test_preview_prices_typical_requests_before_and_after(client, session):
    ensure_default_rate_card(session)
    staff = staff_headers(client, session, roles=["licensing"])
    doubled = _card(use_multipliers_bp={**DEFAULT_RATE_CARD.model_dump(mode="json")["use_multipliers_bp"], "web": 20000})
    answer = client.post("/v1/staff/rate-card/preview", headers=staff, json={"card": doubled})
    assert answer.status_code == 200
    web = [p for p in answer.json()["items"] if p["label"].startswith("One article on a UK website") and p["currency"] == "GBP"]
    assert web[0]["after"] == 2 * web[0]["before"]
    assert len(answer.json()["items"]) == len(previews.TYPICAL) * len(DEFAULT_RATE_CARD.currencies)
    bad = client.post("/v1/staff/rate-card/preview", headers=staff, json={"card": _card(currencies=[])})
    assert bad.status_code == 422
    editor = staff_headers(client, session, roles=["editor"])
    assert client.post("/v1/staff/rate-card/preview", headers=editor, json={"card": doubled}).status_code == 403


def test_dry_run_says_which_recent_requests_a_rule_would_approve(client, session):
    small = submitted_request(session)
    staff = staff_headers(client, session, roles=["licensing"])
    rule = {"name": "Small web", "uses": ["web"], "max_amounts": {"GBP": small.quoted_amount}}
    answer = client.post("/v1/staff/auto-approval-rules/dry-run", headers=staff, json=rule)
    assert answer.status_code == 200, answer.text
    assert answer.json()["checked"] == 1 and answer.json()["would_approve"] == 1
    strict = client.post("/v1/staff/auto-approval-rules/dry-run", headers=staff,
                         json={**rule, "max_amounts": {"GBP": small.quoted_amount - 1}})
    assert strict.json()["would_approve"] == 0
    assert client.get("/v1/staff/auto-approval-rules", headers=staff).json()["items"] == []  # nothing saved


def test_preview_of_a_card_with_shorter_periods_leaves_longer_typical_requests_unpriced(client, session):
    ensure_default_rate_card(session)
    staff = staff_headers(client, session, roles=["licensing"])
    answer = client.post("/v1/staff/rate-card/preview", headers=staff,
                         json={"card": _card(duration_bands=[{"max_months": 1, "multiplier_bp": 10000}])})
    assert answer.status_code == 200, answer.text  # was a 500: StopIteration looking for a duration band
    longer = [p for p in answer.json()["items"] if p["after"] is None]
    assert longer and all(p["before"] is not None for p in longer)
