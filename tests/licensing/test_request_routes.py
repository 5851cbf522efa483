"""POST /v1/quotes and /v1/licence-requests: every invalid field, idempotency, partner isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest
from sqlmodel import select

from api.catalogue import service as catalogue
from api.catalogue.schemas import ArticleUpdate
from api.core.db import utcnow
from api.core.idempotency import IdempotencyRecord
from api.licensing.models import LicenceRequest
from tests.builders import TEST_ACTOR, make_article, make_licence
from tests.licensing.helpers import partner_with_key, request_body


def _withdrawn(session) -> str:
    article = make_article(session)
    catalogue.withdraw_article(session, article.id, reason="Legal", actor=TEST_ACTOR)
    return article.id


def _embargoed(session) -> str:
    article = make_article(session)
    catalogue.update_article(session, article.id, ArticleUpdate(embargo_until=utcnow() + timedelta(days=2)), actor=TEST_ACTOR)
    return article.id


def _days(n: int) -> str:
    return (utcnow() + timedelta(days=n)).isoformat()


# name -> (body changes given an article id and the session, status, problem type)
Case = tuple[Callable[[Any, str], dict[str, Any]], int, str]
CASES: dict[str, Case] = {
    "unknown article": (lambda s, a: {"article_ids": ["art_00000000000000000000000000"]}, 422, "unknown-article"),
    "withdrawn article": (lambda s, a: {"article_ids": [_withdrawn(s)]}, 422, "withdrawn-article"),
    "non-licensable article": (lambda s, a: {"article_ids": [make_article(s, licensable=False).id]}, 422,
                               "article-not-licensable"),
    "embargoed article": (lambda s, a: {"article_ids": [_embargoed(s)]}, 422, "article-embargoed"),
    "bundle with a withdrawn article": (lambda s, a: {"scope": "bundle", "article_ids": [a, _withdrawn(s)]}, 422,
                                        "withdrawn-article"),
    "empty article scope": (lambda s, a: {"article_ids": []}, 422, "empty-scope"),
    "empty bundle": (lambda s, a: {"scope": "bundle", "article_ids": []}, 422, "empty-scope"),
    "section feed without section": (lambda s, a: {"scope": "section_feed", "article_ids": []}, 422, "empty-scope"),
    "two articles for scope article": (lambda s, a: {"article_ids": [a, make_article(s).id]}, 422, "scope-mismatch"),
    "bundle of one": (lambda s, a: {"scope": "bundle"}, 422, "scope-mismatch"),
    "catalogue with articles": (lambda s, a: {"scope": "catalogue"}, 422, "scope-mismatch"),
    "article with a section": (lambda s, a: {"section": "news"}, 422, "scope-mismatch"),
    "unknown section": (lambda s, a: {"scope": "section_feed", "article_ids": [], "section": "astrology"}, 422,
                        "unknown-section"),
    "unknown territory": (lambda s, a: {"territories": ["GB", "XX"]}, 422, "unknown-territory"),
    "alpha-3 territory": (lambda s, a: {"territories": ["GBR"]}, 422, "unknown-territory"),
    "no territories": (lambda s, a: {"territories": []}, 422, "validation"),
    "unknown language": (lambda s, a: {"language": "klingon"}, 422, "unknown-language"),
    "unregistered language": (lambda s, a: {"language": "xx"}, 422, "unknown-language"),
    "start in the past": (lambda s, a: {"starts_at": _days(-2)}, 422, "period-in-past"),
    "end in the past": (lambda s, a: {"starts_at": None, "period_months": None, "ends_at": _days(-1)}, 422,
                        "period-in-past"),
    "end before start": (lambda s, a: {"starts_at": _days(10), "period_months": None, "ends_at": _days(5)}, 422,
                         "invalid-period"),
    "both months and end": (lambda s, a: {"ends_at": _days(40)}, 422, "invalid-period"),
    "neither months nor end": (lambda s, a: {"period_months": None}, 422, "invalid-period"),
    "period too long": (lambda s, a: {"period_months": 37}, 422, "invalid-period"),
    "zero months": (lambda s, a: {"period_months": 0}, 422, "validation"),
    "naive start time": (lambda s, a: {"starts_at": "2030-01-01T00:00:00"}, 422, "validation"),
    "audience zero": (lambda s, a: {"audience_size": 0}, 422, "audience-out-of-range"),
    "audience too large": (lambda s, a: {"audience_size": 2_000_000_000}, 422, "audience-out-of-range"),
    "usage billing for one article": (lambda s, a: {"billing_mode": "usage"}, 422, "billing-mode-not-offered"),
    "unknown use": (lambda s, a: {"use": "television"}, 422, "validation"),
    "unknown scope": (lambda s, a: {"scope": "everything"}, 422, "validation"),
    "unknown field": (lambda s, a: {"price": 0}, 422, "validation"),
    "missing audience": (lambda s, a: {"audience_size": None}, 422, "validation"),
}
REQUEST_ONLY: dict[str, Case] = {
    "publication url not a url": (lambda s, a: {"publication_url": "somewhere on the web"}, 422, "validation"),
    "notes too long": (lambda s, a: {"notes": "x" * 2001}, 422, "validation"),
}


PARAMS = [("/v1/quotes", c) for c in CASES] + [("/v1/licence-requests", c) for c in [*CASES, *REQUEST_ONLY]]


def _requests(session) -> list[LicenceRequest]:
    """Read, then end the read transaction (on SQLite it holds the write lock the app needs)."""
    rows = list(session.exec(select(LicenceRequest)).all())
    session.commit()
    return rows


@pytest.mark.parametrize(("path", "case"), PARAMS)
def test_invalid_field(client, session, path: str, case: str) -> None:
    change, status, problem = {**CASES, **REQUEST_ONLY}[case]
    article = make_article(session, section="news")
    _partner, headers = partner_with_key(session)
    body = {k: v for k, v in {**request_body(article_ids=[article.id]), **change(session, article.id)}.items()
            if v is not None}
    session.commit()
    response = client.post(path, headers=headers, json=body)
    assert response.status_code == status, response.text
    problem_body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem_body["type"] == f"/problems/{problem}"
    assert problem_body["detail"]
    assert _requests(session) == []


def test_currency_not_on_the_rate_card(client, session) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session, currency="JPY")
    session.commit()
    response = client.post("/v1/quotes", headers=headers, json=request_body(article_ids=[article.id]))
    assert response.status_code == 422 and response.json()["type"] == "/problems/currency-not-priced"


def test_no_api_key(client, session) -> None:
    response = client.post("/v1/licence-requests", json=request_body(article_ids=["art_x"]))
    assert response.status_code == 401 and response.json()["type"] == "/problems/unauthenticated"


def test_quote_is_priced_in_the_partners_currency(client, session) -> None:
    article = make_article(session)
    _p, gbp = partner_with_key(session, currency="GBP")
    _q, usd = partner_with_key(session, currency="USD")
    session.commit()
    body = request_body(article_ids=[article.id])
    assert client.post("/v1/quotes", headers=gbp, json=body).json()["amount"] == 15000
    assert client.post("/v1/quotes", headers=usd, json=body).json()["amount"] == 19000


def test_idempotency_key_replays_and_refuses_another_body(client, session) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    body = request_body(article_ids=[article.id])
    keyed = {**headers, "Idempotency-Key": "8d0c1f9e-request-1"}
    first = client.post("/v1/licence-requests", headers=keyed, json=body)
    assert first.status_code == 201
    again = client.post("/v1/licence-requests", headers=keyed, json=dict(reversed(list(body.items()))))
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    other = client.post("/v1/licence-requests", headers=keyed, json={**body, "audience_size": 6000})
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert len(_requests(session)) == 1
    # Without a key, or with a new one, the same body is a new request.
    assert client.post("/v1/licence-requests", headers=headers, json=body).status_code == 201
    assert client.post("/v1/licence-requests", headers={**headers, "Idempotency-Key": "k2"}, json=body).status_code == 201
    assert len(_requests(session)) == 3


@pytest.mark.parametrize("key", ["x" * 256, "caf\u00e9".encode("latin-1"), b"a\x01b"])
def test_a_malformed_or_over_long_idempotency_key_is_a_bad_request(client, session, key) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    response = client.post("/v1/licence-requests", headers={**headers, "Idempotency-Key": key},
                           json=request_body(article_ids=[article.id]))
    assert response.status_code == 400 and response.json()["type"] == "/problems/idempotency-key-invalid"
    assert _requests(session) == []


def test_idempotency_keys_belong_to_one_partner(client, session) -> None:
    article = make_article(session)
    _a, first_headers = partner_with_key(session)
    _b, second_headers = partner_with_key(session)
    session.commit()
    body = request_body(article_ids=[article.id])
    one = client.post("/v1/licence-requests", headers={**first_headers, "Idempotency-Key": "same"}, json=body)
    two = client.post("/v1/licence-requests", headers={**second_headers, "Idempotency-Key": "same"}, json=body)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]


def test_a_failed_request_does_not_burn_its_key(client, session) -> None:
    _partner, headers = partner_with_key(session)
    session.commit()
    keyed = {**headers, "Idempotency-Key": "retry-me"}
    bad = client.post("/v1/licence-requests", headers=keyed, json=request_body(article_ids=["art_missing"]))
    assert bad.status_code == 422
    assert session.exec(select(IdempotencyRecord)).first() is None
    session.commit()
    article = make_article(session)
    session.commit()
    assert client.post("/v1/licence-requests", headers=keyed, json=request_body(article_ids=[article.id])).status_code == 201


def test_another_partners_request_and_licence_are_not_found(client, session) -> None:
    owner, owner_headers = partner_with_key(session)
    _other, other_headers = partner_with_key(session)
    licence = make_licence(session, partner=owner, articles=[make_article(session)])
    session.commit()
    for path, problem in ((f"/v1/licence-requests/{licence.request_id}", "/problems/licence-request-not-found"),
                          (f"/v1/licences/{licence.id}", "/problems/licence-not-found")):
        assert client.get(path, headers=owner_headers).status_code == 200
        response = client.get(path, headers=other_headers)
        assert (response.status_code, response.json()["type"]) == (404, problem), path
    for action in ("accept", "decline"):
        response = client.post(f"/v1/licence-requests/{licence.request_id}/{action}", headers=other_headers)
        assert response.status_code == 404 and response.json()["type"] == "/problems/licence-request-not-found"
    assert client.get("/v1/licence-requests", headers=other_headers).json()["items"] == []
    assert client.get("/v1/licences", headers=other_headers).json()["items"] == []
    assert [i["id"] for i in client.get("/v1/licences", headers=owner_headers).json()["items"]] == [licence.id]


def test_own_requests_page_by_key(client, session) -> None:
    article = make_article(session)
    _partner, headers = partner_with_key(session)
    session.commit()
    ids = [client.post("/v1/licence-requests", headers=headers, json=request_body(article_ids=[article.id])).json()["id"]
           for _ in range(3)]
    first = client.get("/v1/licence-requests", headers=headers, params={"limit": 2}).json()
    second = client.get("/v1/licence-requests", headers=headers, params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert sorted(i["id"] for i in first["items"] + second["items"]) == sorted(ids)
    assert second["next_cursor"] is None


def test_form_describes_fields_options_and_prices(client, session) -> None:
    make_article(session, section="opinion")
    session.commit()
    response = client.get("/v1/licence-requests/form")
    assert response.status_code == 200
    body = response.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert {"scope", "article_ids", "section", "use", "territories", "language", "translation", "starts_at",
            "period_months", "ends_at", "audience_size", "publication_url", "notes"} <= set(fields)
    assert fields["use"]["required"] is True and fields["notes"]["required"] is False
    assert {o["value"] for o in fields["use"]["options"]} == {"web", "print", "broadcast", "newsletter", "app", "academic"}
    territories = {o["value"]: o for o in fields["territories"]["options"]}
    assert len(territories) == 249 and territories["GB"]["zone"] == "domestic" and territories["JP"]["zone"] == "worldwide"
    assert [o["value"] for o in fields["section"]["options"]] == ["opinion"]
    assert [o["value"] for o in fields["audience_size"]["options"]] == ["small", "medium", "large", "very_large"]
    assert "ar" in {o["value"] for o in fields["language"]["options"]}
    assert body["rate_card"]["article_price"]["GBP"] == 15000 and body["rate_card_version"] == 1


def test_anyone_may_price_on_the_public_rate_card(client, session, settings) -> None:
    """No key: the page behind the footer and CMS plug-ins price before anyone registers."""
    article = make_article(session)
    _p, usd = partner_with_key(session, currency="USD")
    session.commit()
    body = request_body(article_ids=[article.id])
    anonymous = client.post("/v1/quotes", json=body)
    assert anonymous.status_code == 200, anonymous.text
    assert anonymous.json()["currency"] == settings.default_currency
    assert anonymous.json()["amount"] == 15000 and anonymous.json()["lines"]
    # A key, when sent, still prices in the partner's currency; a wrong one is still refused.
    assert client.post("/v1/quotes", headers=usd, json=body).json()["currency"] == "USD"
    wrong = client.post("/v1/quotes", headers={"X-API-Key": "sk_live_not-a-key"}, json=body)
    assert wrong.status_code == 401 and wrong.json()["type"] == "/problems/unauthenticated"
    # Invalid terms are explained to anonymous callers as to partners.
    invalid = client.post("/v1/quotes", json=request_body(article_ids=["art_missing"]))
    assert invalid.status_code == 422 and invalid.json()["type"].startswith("/problems/")


def test_the_contract_makes_the_quote_key_optional(app) -> None:
    operation = app.openapi()["paths"]["/v1/quotes"]["post"]
    assert {} in operation["security"] and any("APIKey" in name for req in operation["security"] for name in req)
    assert "429" in operation["responses"]
