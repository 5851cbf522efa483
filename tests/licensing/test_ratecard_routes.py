"""The rate card over HTTP: public reading, staff publishing new versions, validation."""

from __future__ import annotations

from tests.builders import make_article, staff_headers
from tests.licensing.helpers import partner_with_key, request_body


def test_publish_a_new_version_used_by_new_requests(client, session) -> None:
    current = client.get("/v1/rate-card")
    assert current.status_code == 200 and current.json()["version"] == 1
    card = current.json()["card"]
    staff = staff_headers(client, session, roles=["licensing"])
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    before = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id])).json()

    card["article_price"]["GBP"] = 20000
    published = client.put("/v1/staff/rate-card", headers=staff, json={"note": "Articles up", "card": card})
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 2
    after = client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id])).json()
    assert (before["rate_card_version"], before["quoted_amount"]) == (1, 15000)
    assert (after["rate_card_version"], after["quoted_amount"]) == (2, 20000)
    assert client.get("/v1/rate-card/versions/1").json()["card"]["article_price"]["GBP"] == 15000
    assert client.get("/v1/rate-card").json()["version"] == 2
    missing = client.get("/v1/rate-card/versions/99")
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/rate-card-not-found"


def test_an_inconsistent_card_is_refused_with_reasons(client, session) -> None:
    card = client.get("/v1/rate-card").json()["card"]
    staff = staff_headers(client, session, roles=["licensing"])
    del card["article_price"]["USD"]
    card["territory_zones"][0]["countries"].append("ZZ")
    card["audience_tiers"].reverse()
    response = client.put("/v1/staff/rate-card", headers=staff, json={"card": card})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "/problems/invalid-rate-card"
    assert any("article_price" in p for p in body["problems"]) and any("ZZ" in p for p in body["problems"])
    assert any("audience tier" in p for p in body["problems"])
    assert client.get("/v1/rate-card").json()["version"] == 1


def test_only_licensing_staff_publish(client, session) -> None:
    card = client.get("/v1/rate-card").json()["card"]
    finance = staff_headers(client, session, roles=["finance"])
    response = client.put("/v1/staff/rate-card", headers=finance, json={"card": card})
    assert response.status_code == 403 and response.json()["type"] == "/problems/role-required"
    assert client.put("/v1/staff/rate-card", json={"card": card}).status_code == 401
